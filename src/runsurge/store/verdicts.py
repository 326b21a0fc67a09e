"""The Semgrep verdict cache kept in the database, shared by restarts and processes."""

from __future__ import annotations

import json

from sqlalchemy.exc import IntegrityError

from runsurge.scan.findings import ScanReport
from runsurge.store.database import Database
from runsurge.store.models import ScanVerdict


class DatabaseVerdictCache:
    """`scan.VerdictCache` over the scan_verdicts table (synchronous: the gate runs in threads)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def get(self, script_sha256: str, ruleset_version: str) -> ScanReport | None:
        """The cached report for this script under this ruleset, if any."""
        with self._db.transaction() as session:
            row = session.get(ScanVerdict, (script_sha256, ruleset_version))
            return ScanReport.from_dict(json.loads(row.report_json)) if row else None

    def put(self, report: ScanReport) -> None:
        """Remember a verdict; a concurrent identical insert is harmless."""
        try:
            with self._db.transaction() as session:
                session.merge(
                    ScanVerdict(
                        script_sha256=report.script_sha256,
                        ruleset_version=report.ruleset_version,
                        rejected=report.rejected,
                        report_json=json.dumps(report.to_dict()),
                    )
                )
        except IntegrityError:
            pass
