"""Alembic migrations build exactly the schema the models describe, on both databases."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from runsurge.store.database import Database, alembic_config
from runsurge.store.models import Base


def test_migrated_schema_equals_the_models(empty_db_url: str) -> None:
    db = Database(empty_db_url)
    try:
        db.migrate()
        db.migrate()  # idempotent
        with db.engine.connect() as connection:
            diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    finally:
        db.close()
    assert diff == []


def test_scheduler_loops_have_indexes_for_what_they_scan(empty_db_url: str) -> None:
    db = Database(empty_db_url)
    try:
        db.migrate()
        inspector = inspect(db.engine)
        indexes = {
            table: {tuple(i["column_names"]) for i in inspector.get_indexes(table)}
            for table in ("jobs", "tasks", "attempts")
        }
    finally:
        db.close()
    assert ("state",) in indexes["jobs"]  # fairness and the active-job scans
    assert ("state", "lease_expires_at") in indexes["attempts"]  # the lease sweep
    assert ("state", "memory_reservation_bytes") in indexes["tasks"]  # placement.py


def test_upgrade_keeps_known_outcomes_and_gives_old_attempts_a_policy(empty_db_url: str) -> None:
    db = Database(empty_db_url)
    config = alembic_config()
    try:
        with db.engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "0003")
            connection.execute(
                text(
                    "INSERT INTO consumers (id, name, token_sha256, created_at) "
                    "VALUES ('c', 'c', 'h', CURRENT_TIMESTAMP)"
                )
            )
            connection.execute(
                text(
                    "INSERT INTO jobs (id, consumer_id, kind, name, state, script_sha256, "
                    "script_name, task_count, error_kind, error_message, created_at) "
                    "VALUES ('j', 'c', 'single', '', 'RUNNING', 's', 's.py', 1, '', '', "
                    "CURRENT_TIMESTAMP)"
                )
            )
            connection.execute(
                text(
                    'INSERT INTO tasks (id, job_id, "index", state, input_sha256, input_size, '
                    "memory_reservation_bytes, attempt_count, result_size, error_kind, "
                    "error_type, error_message, error_traceback, logs, created_at) "
                    "VALUES (1, 'j', 0, 'RUNNING', 'i', 1, 1, 3, 0, '', '', '', '', :logs, "
                    "CURRENT_TIMESTAMP)"
                ),
                {"logs": b""},
            )
            connection.execute(
                text(
                    "INSERT INTO contributors (id, name, state, cores, memory_bytes, "
                    "isolation_level, insecure, benchmark_score, agent_version, "
                    "session_token_sha256, registered_at, last_seen) VALUES ('m', 'm', "
                    "'ONLINE', 1, 1, '', false, 1.0, '', '', CURRENT_TIMESTAMP, "
                    "CURRENT_TIMESTAMP)"
                )
            )
            for attempt_id, outcome in ((1, "OK"), (2, "NONSENSE"), (3, "")):
                connection.execute(
                    text(
                        "INSERT INTO attempts (id, task_id, contributor_id, state, "
                        "memory_reservation_bytes, outcome, started_at, lease_expires_at, "
                        "wall_seconds, cpu_seconds, peak_memory_bytes, average_memory_bytes, "
                        "memory_source) VALUES (:id, 1, 'm', 'FAILED', 1, :outcome, "
                        "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, 0, 0, 0, 0, '')"
                    ),
                    {"id": attempt_id, "outcome": outcome},
                )
        db.migrate()
        with db.engine.connect() as connection:
            rows = connection.execute(
                text(
                    "SELECT id, outcome, policy_memory_bytes, policy_pids, policy_wall_seconds "
                    "FROM attempts ORDER BY id"
                )
            ).all()
    finally:
        db.close()
    # Outcomes that are no OutcomeKind (and '' for running) become NULL; attempts made
    # before policies were recorded get their reservation and the shipped defaults.
    assert [tuple(r) for r in rows] == [
        (1, "OK", 1, 64, 900.0),
        (2, None, 1, 64, 900.0),
        (3, None, 1, 64, 900.0),
    ]
