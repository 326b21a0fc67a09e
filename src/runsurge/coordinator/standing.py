"""The one place a contributor's state changes: checked, with its reason and time.

Every move goes through `set_state`, which validates it against the contributor
machine (`store.states`), records why (shown in `runsurge contributors`) and when,
and logs it. The only exception is the bulk "everyone is offline" at start-up.
"""

from __future__ import annotations

import datetime as dt
import logging

from runsurge.store.models import Contributor, utcnow
from runsurge.store.states import ContributorState, transition

log = logging.getLogger(__name__)


def set_state(
    contributor: Contributor,
    target: ContributorState,
    reason: str = "",
    now: dt.datetime | None = None,
) -> bool:
    """Move the contributor to `target` with `reason`; whether its state changed."""
    current = contributor.state
    contributor.state = transition(current, target, f"contributor {contributor.id}")
    if current is target and contributor.state_reason == reason:
        return False
    contributor.state_reason = reason[:1000]
    if current is not target:
        contributor.state_changed_at = now or utcnow()
        log.info(
            "contributor %s: %s -> %s%s",
            contributor.id,
            current.value,
            target.value,
            f" ({reason})" if reason else "",
        )
    return current is not target
