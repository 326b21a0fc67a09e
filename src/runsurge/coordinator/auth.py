"""Tokens: who may submit (consumers) and who may run work (contributors).

Tokens are random strings shown once and stored only as sha256 hashes. On first
start the coordinator creates a default consumer and a contributor enrolment token
and writes both to files in its data directory (mode 0600) so that local tools
(`runsurge up`, tests) can pick them up.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import os
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from runsurge.errors import Unauthenticated
from runsurge.store.models import Consumer, Contributor, EnrolmentToken, utcnow

CONSUMER_TOKEN_FILE = "consumer.token"
CONTRIBUTOR_TOKEN_FILE = "contributor.token"


def new_token(prefix: str) -> str:
    """A fresh bearer token; the prefix tells a human what it is for."""
    return f"{prefix}_{secrets.token_urlsafe(32)}"


def token_hash(token: str) -> str:
    """What the database keeps of a token."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_id() -> str:
    """A random identifier for jobs, consumers and contributors (16 hex digits)."""
    return uuid.uuid4().hex[:16]


def _write_secret(path: Path, value: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(value + "\n")


def read_secret(path: Path) -> str:
    """A token file's content, stripped."""
    return path.read_text().strip()


def ensure_contributor_token(data_dir: Path, configured: str = "") -> str:
    """The enrolment token: the configured one, else the saved one, else a new one."""
    path = data_dir / CONTRIBUTOR_TOKEN_FILE
    if configured:
        _write_secret(path, configured)
        return configured
    if path.exists():
        return read_secret(path)
    token = new_token("rsk")
    _write_secret(path, token)
    return token


def ensure_default_consumer(session: Session, data_dir: Path) -> str:
    """Create the 'default' consumer on first start; return its token (from the file)."""
    path = data_dir / CONSUMER_TOKEN_FILE
    if path.exists():
        token = read_secret(path)
        if session.scalar(select(Consumer).where(Consumer.token_sha256 == token_hash(token))):
            return token
    token = new_token("rsc")
    session.add(Consumer(id=new_id(), name="default", token_sha256=token_hash(token)))
    _write_secret(path, token)
    return token


CONSUMER = "consumer"
CONTRIBUTOR = "contributor"
ENROLMENT = "enrolment"  # an agent that has not registered yet


@dataclass(frozen=True)
class Principal:
    """An authenticated caller: a consumer, a registered contributor, or an enrolling agent."""

    kind: str  # CONSUMER | CONTRIBUTOR | ENROLMENT
    id: str


def bearer(metadata: Sequence[tuple[str, str | bytes]] | None) -> str:
    """The bearer token in gRPC metadata, or raise Unauthenticated."""
    for key, value in metadata or ():
        if key == "authorization":
            text = value.decode(errors="replace") if isinstance(value, bytes) else value
            scheme, _, token = text.partition(" ")
            if scheme.lower() == "bearer" and token:
                return token.strip()
    raise Unauthenticated("missing 'authorization: Bearer <token>' metadata")


def _usable(expires_at: dt.datetime | None, revoked_at: dt.datetime | None) -> bool:
    return revoked_at is None and (expires_at is None or expires_at > utcnow())


def identify(
    session: Session, token: str, configured_enrolment: str, wanted: str = "valid"
) -> Principal:
    """Who holds `token`, whatever its kind; Unauthenticated if nobody, or no longer.

    Looked up on every RPC, so that `runsurge admin revoke` and expiry take effect on
    a running coordinator at once. The caller checks the kind (PermissionDenied);
    `wanted` only names the expected kind in the message.
    """
    digest = token_hash(token)
    consumer = session.scalar(select(Consumer).where(Consumer.token_sha256 == digest))
    if consumer is not None:
        if not _usable(consumer.expires_at, consumer.revoked_at):
            raise Unauthenticated("consumer token expired or revoked")
        return Principal(CONSUMER, consumer.id)
    contributor_id = session.scalar(
        select(Contributor.id).where(Contributor.session_token_sha256 == digest)
    )
    if contributor_id is not None:
        return Principal(CONTRIBUTOR, contributor_id)
    if configured_enrolment and hmac.compare_digest(token.encode(), configured_enrolment.encode()):
        return Principal(ENROLMENT, "configured")
    enrolment = session.scalar(select(EnrolmentToken).where(EnrolmentToken.token_sha256 == digest))
    if enrolment is not None:
        if not _usable(enrolment.expires_at, enrolment.revoked_at):
            raise Unauthenticated("contributor enrolment token expired or revoked")
        return Principal(ENROLMENT, enrolment.id)
    hint = "; register again" if wanted == CONTRIBUTOR else ""
    raise Unauthenticated(f"unknown {wanted} token{hint}")
