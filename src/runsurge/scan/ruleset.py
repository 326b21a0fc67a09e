"""The rules shipped inside the package, and the version that keys cached verdicts.

A verdict is only as good as the rules that produced it, so the version is a hash
over every rule file (name and content) plus `GATE_LOGIC`, the revision of the
Python-side checks (syntax, encoding, incomplete scans). Editing a rule, adding a
file or changing those checks therefore changes the version, and every verdict
cached under the old one is ignored.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from runsurge.errors import ScanUnavailable

# Bump when the engine's own checks change meaning (see engine.py, _precheck.py).
GATE_LOGIC = "runsurge-scan-gate/1"

# Findings the engine itself produces, without Semgrep.
PARSE_ERROR_RULE = "runsurge.syntax.parse-error"
ENCODING_RULE = "runsurge.syntax.source-encoding"
INCOMPLETE_RULE = "runsurge.scan.incomplete"
ENGINE_RULES = frozenset({PARSE_ERROR_RULE, ENCODING_RULE, INCOMPLETE_RULE})

_RULE_ID = re.compile(r"^\s*-\s*id:\s*(runsurge\.[\w.\-]+)\s*$", re.MULTILINE)


@dataclass(frozen=True)
class Ruleset:
    """The rule files Semgrep runs, their rule ids, and the version they add up to."""

    files: tuple[Path, ...]
    rule_ids: frozenset[str]
    version: str

    @classmethod
    def packaged(cls) -> Ruleset:
        """The ruleset in `runsurge/scan/rules/`; raises ScanUnavailable if it is missing."""
        root = resources.files("runsurge.scan") / "rules"
        if not isinstance(root, Path):
            # Semgrep needs real files; a zipped install would need extracting first.
            raise ScanUnavailable(f"scan rules are not on the file system: {root}")
        return cls.from_directory(root)

    @classmethod
    def from_directory(cls, directory: Path) -> Ruleset:
        """Load every `*.yml` in `directory`, in name order so the version is stable."""
        files = tuple(sorted(directory.glob("*.yml")))
        if not files:
            raise ScanUnavailable(f"no scan rules found in {directory}")
        digest = hashlib.sha256(GATE_LOGIC.encode())
        rule_ids: set[str] = set()
        for path in files:
            content = path.read_bytes()
            digest.update(b"\0" + path.name.encode() + b"\0" + content)
            rule_ids.update(_RULE_ID.findall(content.decode("utf-8")))
        return cls(files=files, rule_ids=frozenset(rule_ids), version=digest.hexdigest())

    def canonical_rule_id(self, reported: str) -> str:
        """Our rule id for a Semgrep `check_id`, which may carry a path-derived prefix.

        Raises ScanUnavailable for an id this ruleset does not define: the output
        then did not come from these rules, and no verdict can be trusted.
        """
        if reported in self.rule_ids:
            return reported
        for rule_id in self.rule_ids:
            if reported.endswith("." + rule_id):
                return rule_id
        raise ScanUnavailable(f"semgrep reported unknown rule {reported!r}")
