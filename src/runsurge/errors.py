"""The RunSurge exception tree; every error a user can meet is one of these.

    RunSurgeError
    ├── ConfigError                 settings missing or inconsistent
    ├── InvalidRequest              the caller sent something malformed      → INVALID_ARGUMENT
    │   ├── InvalidInput            an input is not UTF-8, too large, …
    │   └── ScriptRejected          the Semgrep gate refused the script (carries findings)
    ├── NotFound                    unknown job, task or contributor        → NOT_FOUND
    ├── Unauthenticated             missing or wrong token                   → UNAUTHENTICATED
    ├── PermissionDenied            authenticated, but not yours             → PERMISSION_DENIED
    ├── LimitExceeded               a size or count limit                    → RESOURCE_EXHAUSTED
    ├── Conflict                    the object is in the wrong state         → FAILED_PRECONDITION
    │   └── InvalidTransition       a state machine refused a transition
    ├── ScanUnavailable             Semgrep could not run; submission fails closed → UNAVAILABLE
    ├── SandboxUnavailable          the host lacks the minimum isolation layers
    ├── CoordinatorUnreachable      the client could not connect             (client side)
    └── JobFailed                   waited for a result that ended in failure (client side)

gRPC status codes are mapped from these in one place (`coordinator/status.py`) and
back again at the client edge (`client/_errors.py`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from runsurge.scan.findings import Finding


class RunSurgeError(Exception):
    """Base of every error RunSurge raises on purpose."""


class ConfigError(RunSurgeError):
    """A setting is missing, malformed or contradicts another."""


class InvalidRequest(RunSurgeError):
    """The caller sent something malformed; the message says what to fix."""


class InvalidInput(InvalidRequest):
    """A job input is unusable (not UTF-8, empty stream, …)."""


class ScriptRejected(InvalidRequest):
    """The Semgrep gate refused a script; `findings` lists every reason."""

    def __init__(self, findings: Sequence[Finding]) -> None:
        self.findings = list(findings)
        lines = [f"script rejected by the security scan ({len(self.findings)} finding(s)):"]
        lines += [f"  {f.describe()}" for f in self.findings]
        super().__init__("\n".join(lines))


class NotFound(RunSurgeError):
    """The named job, task, blob or contributor does not exist."""


class Unauthenticated(RunSurgeError):
    """No token, or a token the coordinator does not know."""


class PermissionDenied(RunSurgeError):
    """The caller is known but may not touch this object."""


class LimitExceeded(RunSurgeError):
    """A size, count or balance limit was hit; the message names the limit."""


class Conflict(RunSurgeError):
    """The object is in a state that does not allow the request."""


class InvalidTransition(Conflict):
    """A state machine was asked for a transition it does not allow."""


class ScanUnavailable(RunSurgeError):
    """Semgrep could not run, so no verdict exists; submission fails closed."""


class SandboxUnavailable(RunSurgeError):
    """The host lacks the minimum isolation layers for untrusted work."""


class CoordinatorUnreachable(RunSurgeError):
    """The client could not reach the coordinator at the configured address."""


class JobFailed(RunSurgeError):
    """A job, or one input of it, ended without a result; the attributes say why.

    `kind` is how it ended (SCRIPT_ERROR, TIMEOUT, OUT_OF_MEMORY, CANCELLED, …),
    `error_type`, `message` and `traceback` are the script's exception (empty when it
    raised none), `job_id` the job and `index` the input (None: the job as a whole).
    `str(exc)` reads as one paragraph with all of it.
    """

    def __init__(
        self,
        description: str,
        *,
        job_id: str = "",
        index: int | None = None,
        kind: str = "",
        error_type: str = "",
        message: str = "",
        traceback: str = "",
    ) -> None:
        super().__init__(description)
        self.job_id = job_id
        self.index = index
        self.kind = kind
        self.error_type = error_type
        self.message = message or description
        self.traceback = traceback
