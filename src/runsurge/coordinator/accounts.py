"""Accounts an operator manages: consumers and contributor enrolment tokens.

`runsurge admin` calls these directly on the coordinator's database; a running
coordinator sees every change on the next RPC, because auth.identify reads the rows
on each call. Tokens are returned once, when made, and only their hashes are kept.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from runsurge.billing import ledger
from runsurge.config import parse_seconds
from runsurge.coordinator.auth import CONSUMER, ENROLMENT, new_id, new_token, token_hash
from runsurge.errors import InvalidRequest, NotFound
from runsurge.store.models import Consumer, EnrolmentToken, utcnow


def parse_duration(text: str) -> dt.timedelta:
    """'90s', '30m', '12h', '7d' (or plain seconds) as a positive timedelta."""
    return dt.timedelta(seconds=parse_seconds(text))


@dataclass(frozen=True)
class NewAccount:
    """An account just made: its id, and its token (shown this once)."""

    id: str
    token: str


@dataclass(frozen=True)
class AccountView:
    """One account as `admin list` shows it; never the token."""

    id: str
    kind: str  # CONSUMER | ENROLMENT
    name: str
    created_at: dt.datetime
    expires_at: dt.datetime | None
    revoked_at: dt.datetime | None

    @property
    def status(self) -> str:
        """active, expired or revoked."""
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= utcnow():
            return "expired"
        return "active"


def _expiry(expires_in: dt.timedelta | None) -> dt.datetime | None:
    return None if expires_in is None else utcnow() + expires_in


def add_consumer(session: Session, name: str, expires_in: dt.timedelta | None) -> NewAccount:
    """A new consumer with a fresh token."""
    if not name.strip():
        raise InvalidRequest("a consumer needs a name")
    token = new_token("rsc")
    consumer = Consumer(
        id=new_id(), name=name[:200], token_sha256=token_hash(token), expires_at=_expiry(expires_in)
    )
    session.add(consumer)
    return NewAccount(consumer.id, token)


def add_enrolment_token(session: Session, expires_in: dt.timedelta | None) -> NewAccount:
    """A new contributor enrolment token, accepted by Register besides the configured one."""
    token = new_token("rsk")
    row = EnrolmentToken(
        id=new_id(), token_sha256=token_hash(token), expires_at=_expiry(expires_in)
    )
    session.add(row)
    return NewAccount(row.id, token)


def credit_by_token(session: Session, token: str, amount: Decimal) -> Decimal:
    """Credit the consumer holding `token` (`runsurge up`'s local one); its new balance."""
    consumer_id = session.scalar(
        select(Consumer.id).where(Consumer.token_sha256 == token_hash(token))
    )
    if consumer_id is None:
        raise NotFound("no consumer holds that token")
    return ledger.credit(session, consumer_id, amount, "runsurge up")


def revoke(session: Session, account_id: str) -> str:
    """Revoke a consumer or an enrolment token by id; return which kind it was."""
    rows: list[tuple[Consumer | EnrolmentToken | None, str]] = [
        (session.get(Consumer, account_id), CONSUMER),
        (session.get(EnrolmentToken, account_id), ENROLMENT),
    ]
    for row, kind in rows:
        if row is not None:
            if row.revoked_at is None:
                row.revoked_at = utcnow()
            return kind
    raise NotFound(f"no consumer or enrolment token with id {account_id!r}")


def list_accounts(session: Session) -> list[AccountView]:
    """Every consumer and enrolment token, oldest first."""
    views = [
        AccountView(c.id, CONSUMER, c.name, c.created_at, c.expires_at, c.revoked_at)
        for c in session.scalars(select(Consumer))
    ]
    views += [
        AccountView(e.id, ENROLMENT, "", e.created_at, e.expires_at, e.revoked_at)
        for e in session.scalars(select(EnrolmentToken))
    ]
    return sorted(views, key=lambda v: v.created_at)
