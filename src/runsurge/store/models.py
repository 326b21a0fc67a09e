"""SQLAlchemy models: the coordinator's whole durable state.

Everything that must survive a restart is here or in the blob store. States and
kinds (`runsurge.kinds`) are stored as their enum values; only
`store.states.transition` decides moves.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
)
from sqlalchemy import Enum as SAEnum
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from runsurge.kinds import EstimateSource, JobKind, OnError, OutcomeKind, TaskKind
from runsurge.store.states import AttemptState, ContributorState, JobState, TaskState

# The stored index of a group's aggregate task: outside the inputs' numbering (from 0)
# and, through uq_tasks_job_index, one per job. Code finds that task by its kind.
AGGREGATE_INDEX = -1

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets a BIGINT identity.
BigId = BigInteger().with_variant(Integer(), "sqlite")


def utcnow() -> dt.datetime:
    """Timezone-aware now, the only clock the models use."""
    return dt.datetime.now(dt.UTC)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Stores aware UTC datetimes; SQLite hands back naive ones, which this re-tags."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(dt.UTC) if value is not None else None

    def process_result_value(
        self, value: dt.datetime | None, dialect: Dialect
    ) -> dt.datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value


class Micros(TypeDecorator[Decimal]):
    """An exact decimal with 6 places (a machine factor), stored as an integer of millionths.

    SQLite has no exact decimal type; an integer is exact on both databases.
    """

    impl = BigInteger
    cache_ok = True
    PLACES = Decimal("0.000001")

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> int | None:
        if value is None:
            return None
        return int(Decimal(value).quantize(self.PLACES) * 1_000_000)

    def process_result_value(self, value: int | None, dialect: Dialect) -> Decimal | None:
        return None if value is None else (Decimal(value) / 1_000_000).quantize(self.PLACES)


def _enum(enum_cls: type, length: int = 16) -> SAEnum:
    """A column holding an enum's values as plain strings (no database enum type)."""
    return SAEnum(
        enum_cls,
        native_enum=False,
        length=length,
        values_callable=lambda e: [m.value for m in e],
        validate_strings=True,
    )


class Base(DeclarativeBase):
    """Declarative base of every RunSurge table."""


class Consumer(Base):
    """Someone who submits jobs; authenticates with a token whose hash is kept."""

    __tablename__ = "consumers"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # None: never expires / not revoked. Checked on every RPC (coordinator/auth.py).
    expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class EnrolmentToken(Base):
    """A contributor enrolment token made by `runsurge admin add-contributor-token`.

    Accepted by Register besides the coordinator's configured token, so that an
    operator can hand out (and revoke) one per machine or per batch of machines.
    """

    __tablename__ = "enrolment_tokens"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class Contributor(Base):
    """A machine that runs tasks; one row per identity, reused across reconnects."""

    __tablename__ = "contributors"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    state: Mapped[ContributorState] = mapped_column(
        _enum(ContributorState), default=ContributorState.OFFLINE
    )
    cores: Mapped[int] = mapped_column(Integer)
    memory_bytes: Mapped[int] = mapped_column(BigInteger)
    isolation_level: Mapped[str] = mapped_column(String(200), default="")
    insecure: Mapped[bool] = mapped_column(Boolean, default=False)
    benchmark_score: Mapped[float] = mapped_column(Float, default=1.0)
    agent_version: Mapped[str] = mapped_column(String(50), default="")
    session_token_sha256: Mapped[str] = mapped_column(String(64), default="")
    # The hash of the identity secret the agent keeps in its work dir; Register with
    # this id must present the secret ("" for rows from before identities: never matched).
    identity_secret_sha256: Mapped[str] = mapped_column(String(64), default="", server_default="")
    # Why the contributor is in its state (shown to operators), and since when.
    state_reason: Mapped[str] = mapped_column(Text, default="", server_default="")
    state_changed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # Heartbeat flaps (went SUSPECT or lost its stream) counted in the window that began
    # at flap_window_started_at (coordinator/quarantine.py).
    flap_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    flap_window_started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # When a quarantine ends; failures before the last release never count again.
    quarantined_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    registered_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_seen: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # The factor its latest benchmark claims (recomputed from the parts), and the one it
    # is paid at: the claim as far as its tasks' speed bears it out (billing/factor.py).
    claimed_factor: Mapped[Decimal] = mapped_column(
        Micros(), default=Decimal(1), server_default="1000000"
    )
    machine_factor: Mapped[Decimal] = mapped_column(
        Micros(), default=Decimal(1), server_default="1000000"
    )
    # The claim is out of line with its tasks' speed; factor_note says how (or why the
    # factor is capped while the evidence is too thin).
    factor_flagged: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    factor_note: Mapped[str] = mapped_column(Text, default="", server_default="")


class MachineFactorClaim(Base):
    """One benchmark an agent reported: its parts and the factor they claim (the history)."""

    __tablename__ = "machine_factor_claims"
    __table_args__ = (Index("ix_machine_factor_claims_contributor_id", "contributor_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    contributor_id: Mapped[str] = mapped_column(ForeignKey("contributors.id"))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    parts_json: Mapped[str] = mapped_column(Text)  # {"integer": rate, ...} (billing/benchmark.py)
    cores: Mapped[int] = mapped_column(Integer)
    seconds: Mapped[float] = mapped_column(Float)  # how long the benchmark ran
    claimed_factor: Mapped[Decimal] = mapped_column(Micros())


class Job(Base):
    """One submission: a script and 1..N inputs (a single job has exactly one)."""

    __tablename__ = "jobs"
    __table_args__ = (
        # A key names one job of its consumer; NULL (no key) never collides.
        Index("uq_jobs_consumer_idempotency_key", "consumer_id", "idempotency_key", unique=True),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    consumer_id: Mapped[str] = mapped_column(ForeignKey("consumers.id"), index=True)
    kind: Mapped[JobKind] = mapped_column(_enum(JobKind))
    name: Mapped[str] = mapped_column(String(200), default="")
    # Indexed: the scheduler and the sweeps read active jobs by state.
    state: Mapped[JobState] = mapped_column(
        _enum(JobState), default=JobState.SUBMITTING, index=True
    )
    script_sha256: Mapped[str] = mapped_column(String(64))
    script_name: Mapped[str] = mapped_column(String(200), default="script.py")
    task_count: Mapped[int] = mapped_column(Integer, default=0)
    # Per-state counts of the input tasks, kept by jobs.move_task so that progress and
    # settling cost O(1) whatever the group's size.
    queued_count: Mapped[int] = mapped_column(Integer, default=0)
    running_count: Mapped[int] = mapped_column(Integer, default=0)
    succeeded_count: Mapped[int] = mapped_column(Integer, default=0)
    failed_count: Mapped[int] = mapped_column(Integer, default=0)
    cancelled_count: Mapped[int] = mapped_column(Integer, default=0)
    # The last finishing position handed to one of its inputs (Task.finished_seq), kept by
    # jobs.move_task under the job's row lock, so positions are committed in their order.
    finished_seq: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    on_error: Mapped[OnError] = mapped_column(_enum(OnError), default=OnError.CONTINUE)
    aggregate_specs: Mapped[str] = mapped_column(Text, default="[]")  # JSON list of FIELD=REDUCER
    aggregate_script: Mapped[bool] = mapped_column(Boolean, default=False)
    aggregate_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    aggregate_size: Mapped[int] = mapped_column(BigInteger, default=0)
    error_kind: Mapped[str] = mapped_column(String(32), default="")
    error_message: Mapped[str] = mapped_column(Text, default="")
    # Failed fan-in tries of a group and when the next is due (coordinator/aggregation.py).
    aggregation_failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    aggregation_retry_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # When a SUBMITTING job last received input (None: read as created_at); the
    # submission reaper fails uploads silent for longer than the timeout.
    submission_activity_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # Why queued work cannot start (a task larger than every connected agent), and
    # since when; kept by coordinator/placement.py.
    waiting_reason: Mapped[str] = mapped_column(Text, default="", server_default="")
    unplaceable_since: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # The consumer's per-task memory limit (`--memory`); no reservation exceeds it. 0: none.
    memory_limit_bytes: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    # The consumer's per-job limits (0: the coordinator's own), never above the
    # coordinator's (checked at submission, applied in coordinator/policy.py).
    wall_seconds: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
    cpu_seconds: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
    max_attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Orders the consumer's own jobs, higher first (coordinator/fairness.py).
    priority: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    labels: Mapped[str] = mapped_column(Text, default="{}", server_default="{}")  # JSON object
    # The client's key for an idempotent submission (None: none); see submission.py.
    idempotency_key: Mapped[str | None] = mapped_column(String(128), nullable=True)
    # Billing (micro-units): the quote held when the job was sealed, and what its
    # attempts were charged so far. While the job is unfinished, max(0, quote - charged)
    # stays held against the consumer's balance (billing/ledger.py).
    quote_micros: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    charged_micros: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    tasks: Mapped[list[Task]] = relationship(back_populates="job", order_by="Task.index")


class Task(Base):
    """One input of a job; its result is recorded once, whatever attempts report."""

    __tablename__ = "tasks"
    __table_args__ = (
        UniqueConstraint("job_id", "index", name="uq_tasks_job_index"),
        Index("ix_tasks_state_id", "state", "id"),
        # A job's input tasks (counters, listings) and its aggregate task, by kind.
        Index("ix_tasks_job_kind", "job_id", "kind"),
        # The scheduler's "next queued task of this job, in input order".
        Index("ix_tasks_job_state_index", "job_id", "state", "index"),
        # Queued tasks larger than an agent's offer (coordinator/placement.py).
        Index("ix_tasks_state_reservation", "state", "memory_reservation_bytes"),
        # A job's inputs in the order they finished (coordinator/result_stream.py).
        Index("ix_tasks_job_finished_seq", "job_id", "finished_seq"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id"))
    index: Mapped[int] = mapped_column(Integer)  # input order; AGGREGATE_INDEX for the fan-in
    kind: Mapped[TaskKind] = mapped_column(_enum(TaskKind), default=TaskKind.PROCESS)
    state: Mapped[TaskState] = mapped_column(_enum(TaskState), default=TaskState.QUEUED)
    input_sha256: Mapped[str] = mapped_column(String(64))
    input_size: Mapped[int] = mapped_column(BigInteger)
    memory_reservation_bytes: Mapped[int] = mapped_column(BigInteger)
    # The memory estimate behind the reservation (0: none), shown to the consumer.
    estimate_bytes: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    estimate_method: Mapped[EstimateSource] = mapped_column(
        _enum(EstimateSource), default=EstimateSource.DEFAULT, server_default="default"
    )
    estimate_confidence: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
    # The estimate before its margin and rounding: actual/raw calibrates the margin.
    estimate_raw_bytes: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    attempt_count: Mapped[int] = mapped_column(Integer, default=0)
    result_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    result_size: Mapped[int] = mapped_column(BigInteger, default=0)
    error_kind: Mapped[str] = mapped_column(String(32), default="")
    error_type: Mapped[str] = mapped_column(String(200), default="")
    error_message: Mapped[str] = mapped_column(Text, default="")
    error_traceback: Mapped[str] = mapped_column(Text, default="")
    logs: Mapped[bytes] = mapped_column(LargeBinary, default=b"")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # Its position among the job's inputs in the order they became final (increasing,
    # not contiguous); None while it is not final. Results streams resume after one.
    finished_seq: Mapped[int | None] = mapped_column(BigInteger, nullable=True)

    job: Mapped[Job] = relationship(back_populates="tasks")
    attempts: Mapped[list[Attempt]] = relationship(back_populates="task", order_by="Attempt.id")


class Attempt(Base):
    """One contributor's try at a task, kept alive by that contributor's lease."""

    __tablename__ = "attempts"
    __table_args__ = (
        Index("ix_attempts_contributor_state", "contributor_id", "state"),
        # The lease sweep: RUNNING attempts whose lease ran out.
        Index("ix_attempts_state_lease", "state", "lease_expires_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id"), index=True)
    contributor_id: Mapped[str] = mapped_column(ForeignKey("contributors.id"))
    state: Mapped[AttemptState] = mapped_column(_enum(AttemptState), default=AttemptState.RUNNING)
    memory_reservation_bytes: Mapped[int] = mapped_column(BigInteger)
    # None while the attempt runs.
    outcome: Mapped[OutcomeKind | None] = mapped_column(_enum(OutcomeKind, 32), nullable=True)
    # The sandbox policy decided when the attempt was claimed (coordinator/policy.py).
    policy_memory_bytes: Mapped[int] = mapped_column(BigInteger)
    policy_pids: Mapped[int] = mapped_column(Integer)
    policy_cpu_seconds: Mapped[float] = mapped_column(Float)
    policy_wall_seconds: Mapped[float] = mapped_column(Float)
    policy_max_output_bytes: Mapped[int] = mapped_column(BigInteger)
    policy_max_log_bytes: Mapped[int] = mapped_column(BigInteger)
    policy_workdir_bytes: Mapped[int] = mapped_column(BigInteger)
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    lease_expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    wall_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    cpu_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    peak_memory_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    average_memory_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    memory_source: Mapped[str] = mapped_column(String(32), default="")
    # Its agent had it: a heartbeat listed it as running, or its report arrived. A task
    # claimed again after such an attempt was lost reruns work (metrics.py counts it).
    reached_agent: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # The agent was asked to probe the task's memory before running it (policy.py);
    # only then does the coordinator take an estimate from its report.
    probe_requested: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    task: Mapped[Task] = relationship(back_populates="attempts")


class ScanVerdict(Base):
    """A cached Semgrep verdict for one script hash under one ruleset version."""

    __tablename__ = "scan_verdicts"

    script_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    ruleset_version: Mapped[str] = mapped_column(String(64), primary_key=True)
    rejected: Mapped[bool] = mapped_column(Boolean)
    report_json: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class NodeSample(Base):
    """A contributor's resource use at one moment (kept for a limited time and count)."""

    __tablename__ = "node_samples"
    __table_args__ = (
        # The latest sample of each contributor (listings), and pruning by age.
        Index("ix_node_samples_contributor_id", "contributor_id", "id"),
        Index("ix_node_samples_at", "at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    contributor_id: Mapped[str] = mapped_column(ForeignKey("contributors.id"))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    cpu_percent: Mapped[float] = mapped_column(Float)
    memory_used_bytes: Mapped[int] = mapped_column(BigInteger)
    memory_free_bytes: Mapped[int] = mapped_column(BigInteger)
    load_1m: Mapped[float] = mapped_column(Float)
    disk_free_bytes: Mapped[int] = mapped_column(BigInteger)


class TaskSample(Base):
    """One running attempt's CPU and memory at one moment (kept for a limited time and count).

    The job and input are copied from the attempt when the sample is stored, so a
    consumer's read is one index range, with no join.
    """

    __tablename__ = "task_samples"
    __table_args__ = (
        # A job's samples after a cursor (watch), and pruning by age.
        Index("ix_task_samples_job_id", "job_id", "id"),
        Index("ix_task_samples_at", "at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id"))
    task_index: Mapped[int] = mapped_column(Integer)
    attempt_id: Mapped[int] = mapped_column(ForeignKey("attempts.id"))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    cpu_percent: Mapped[float] = mapped_column(Float)
    memory_bytes: Mapped[int] = mapped_column(BigInteger)


class Account(Base):
    """A ledger account: one per consumer, per contributor, and the platform's.

    `balance_micros` is the sum of the account's entries, kept in the same transaction
    as each entry (billing/ledger.py); integer micro-units, never floats.
    """

    __tablename__ = "accounts"
    __table_args__ = (UniqueConstraint("kind", "owner_id", name="uq_accounts_kind_owner"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16))  # consumer | contributor | platform
    owner_id: Mapped[str] = mapped_column(String(32), default="")  # "" for the platform
    balance_micros: Mapped[int] = mapped_column(BigInteger, default=0)
    # How far below zero a consumer's balance may go; None: the configured default.
    limit_micros: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class LedgerTransaction(Base):
    """One balanced movement of money: its entries sum to zero.

    A charge is keyed by its attempt: the unique (attempt_id, kind) makes a second
    charge for the same attempt impossible, whatever replays a report.
    """

    __tablename__ = "ledger_transactions"
    __table_args__ = (
        UniqueConstraint("attempt_id", "kind", name="uq_ledger_transactions_attempt_kind"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16))  # charge | credit
    attempt_id: Mapped[int | None] = mapped_column(ForeignKey("attempts.id"), nullable=True)
    memo: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class LedgerEntry(Base):
    """One leg of a transaction: `amount_micros` added to one account (negative: taken)."""

    __tablename__ = "ledger_entries"
    __table_args__ = (Index("ix_ledger_entries_account_id", "account_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    transaction_id: Mapped[int] = mapped_column(ForeignKey("ledger_transactions.id"), index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    amount_micros: Mapped[int] = mapped_column(BigInteger)


class Charge(Base):
    """What one charged attempt was priced from, for invoices and earnings.

    Figures are the exact inputs of the formula: the factor and the seconds kept to
    1e-6 (as micro-units), the average memory in bytes as stored on the attempt.
    """

    __tablename__ = "charges"
    __table_args__ = (
        Index("ix_charges_job_id", "job_id", "task_index"),
        Index("ix_charges_contributor_id", "contributor_id", "attempt_id"),
    )

    attempt_id: Mapped[int] = mapped_column(ForeignKey("attempts.id"), primary_key=True)
    transaction_id: Mapped[int] = mapped_column(ForeignKey("ledger_transactions.id"), unique=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id"))
    task_index: Mapped[int] = mapped_column(Integer)
    contributor_id: Mapped[str] = mapped_column(ForeignKey("contributors.id"))
    outcome: Mapped[str] = mapped_column(String(32))
    machine_factor_micros: Mapped[int] = mapped_column(BigInteger)
    average_memory_bytes: Mapped[int] = mapped_column(BigInteger)
    seconds_micros: Mapped[int] = mapped_column(BigInteger)
    cost_micros: Mapped[int] = mapped_column(BigInteger)
    fee_micros: Mapped[int] = mapped_column(BigInteger)
    # Part of the cost the consumer's spending limit could not cover; the platform paid it.
    written_off_micros: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
