"""Run Semgrep, offline, over scripts given as bytes and return their findings.

Two interchangeable routes share one contract (`ScanEngine`):

- `SemgrepCoreEngine` runs the `semgrep-core` binary from the semgrep wheel
  directly, as the Python CLI itself does after planning the scan (see
  semgrep/core_runner.py: `-json -rules ... -targets ... -timeout ...`). It skips
  the CLI's ~3 s of Python start-up and planning, and never touches the network.
- `SemgrepCliEngine` runs `semgrep scan` with metrics, version check, registry and
  `nosemgrep` comments all off. It is slower but uses only Semgrep's public
  interface; the test suite checks both routes agree on the corpora.

Either way the script is written to a private temporary directory, a wall-clock
timeout bounds the run (the whole process group is killed), and anything short of
a clean, understood JSON answer raises ScanUnavailable so that submission fails
closed.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from runsurge.errors import ScanUnavailable
from runsurge.scan._precheck import precheck, source_lines
from runsurge.scan._semgrep_output import decode_output, findings_by_target
from runsurge.scan.findings import Finding
from runsurge.scan.ruleset import Ruleset


class ScanEngine(Protocol):
    """Anything that turns scripts into findings under a versioned ruleset."""

    @property
    def ruleset_version(self) -> str:
        """The version of the rules this engine applies (a cache key component)."""
        ...

    def scan(self, source: bytes) -> list[Finding]:
        """Findings for one script; raises ScanUnavailable when no verdict is possible."""
        ...

    def scan_many(self, sources: Sequence[bytes]) -> list[list[Finding]]:
        """Findings for several scripts in one Semgrep run, in the order given."""
        ...


class _SemgrepEngine:
    """Shared work of both routes: pre-checks, temp files, the subprocess, parsing."""

    def __init__(
        self,
        ruleset: Ruleset | None = None,
        *,
        timeout_s: float = 60.0,
        rule_timeout_s: float = 5.0,
        jobs: int = 1,
    ) -> None:
        self.ruleset = ruleset or Ruleset.packaged()
        self.timeout_s = timeout_s
        self.rule_timeout_s = rule_timeout_s
        self.jobs = jobs

    @property
    def ruleset_version(self) -> str:
        """The packaged ruleset's version (see ruleset.py)."""
        return self.ruleset.version

    def scan(self, source: bytes) -> list[Finding]:
        """Findings for one script; raises ScanUnavailable when no verdict is possible."""
        return self.scan_many([source])[0]

    def scan_many(self, sources: Sequence[bytes]) -> list[list[Finding]]:
        """Findings for several scripts in one Semgrep run, in the order given."""
        results: list[list[Finding] | None] = [None] * len(sources)
        pending: dict[str, tuple[int, bytes]] = {}
        for index, source in enumerate(sources):
            rejection = precheck(source)
            if rejection is not None:
                results[index] = [rejection]
            else:
                pending[f"script_{index}.py"] = (index, source)
        if pending:
            with tempfile.TemporaryDirectory(prefix="runsurge-scan-") as tmp:
                workdir = Path(tmp)
                paths = []
                for name, (_, source) in pending.items():
                    path = workdir / name
                    path.write_bytes(source)
                    paths.append(path)
                document = self._run(paths, workdir)
            lines = {name: source_lines(source) for name, (_, source) in pending.items()}
            for name, findings in findings_by_target(document, lines, self.ruleset).items():
                results[pending[name][0]] = findings
        return [r if r is not None else [] for r in results]

    def _run(self, targets: Sequence[Path], workdir: Path) -> dict[str, Any]:
        raise NotImplementedError

    def _execute(self, command: Sequence[str], workdir: Path) -> dict[str, Any]:
        """Run `command` in its own process group with a clean, offline environment."""
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(workdir),  # the CLI writes settings and logs under $HOME
            "LANG": "C.UTF-8",
            "SEMGREP_SEND_METRICS": "off",
            "SEMGREP_ENABLE_VERSION_CHECK": "0",
        }
        try:
            process = subprocess.Popen(
                list(command),
                cwd=workdir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,
            )
        except OSError as exc:
            raise ScanUnavailable(f"cannot start semgrep ({command[0]}): {exc}") from exc
        try:
            stdout, stderr = process.communicate(timeout=self.timeout_s)
        except subprocess.TimeoutExpired:
            _kill_group(process)
            raise ScanUnavailable(f"semgrep did not finish within {self.timeout_s:g} s") from None
        if process.returncode != 0:
            tail = stderr.decode("utf-8", errors="replace").strip()[-500:]
            raise ScanUnavailable(f"semgrep exited with status {process.returncode}: {tail}")
        return decode_output(stdout)


class SemgrepCoreEngine(_SemgrepEngine):
    """Runs the `semgrep-core` binary directly: same rules and results, ~10x faster."""

    def __init__(
        self,
        ruleset: Ruleset | None = None,
        *,
        core_path: Path | None = None,
        timeout_s: float = 60.0,
        rule_timeout_s: float = 5.0,
        jobs: int = 1,
        max_memory_mib: int = 2048,
    ) -> None:
        super().__init__(ruleset, timeout_s=timeout_s, rule_timeout_s=rule_timeout_s, jobs=jobs)
        self.core_path = core_path or find_semgrep_core()
        self.max_memory_mib = max_memory_mib

    def _run(self, targets: Sequence[Path], workdir: Path) -> dict[str, Any]:
        # The same target-list form the CLI writes (semgrep/core_targets_plan.py).
        plan = [
            "Targets",
            [
                [
                    "CodeTarget",
                    {
                        "path": {"fpath": str(t), "ppath": "/" + t.name},
                        "analyzer": "python",
                        "products": ["sast"],
                    },
                ]
                for t in targets
            ],
        ]
        targets_file = workdir / "targets.json"
        targets_file.write_text(json.dumps(plan), encoding="utf-8")
        command = [str(self.core_path), "-json"]
        for rule_file in self.ruleset.files:
            command += ["-rules", str(rule_file)]
        command += [
            "-targets",
            str(targets_file),
            "-j",
            str(self.jobs),
            "-timeout",
            f"{self.rule_timeout_s:g}",
            "-timeout_threshold",
            "3",
            "-max_memory",
            str(self.max_memory_mib),
            "-fast",
        ]
        return self._execute(command, workdir)


class SemgrepCliEngine(_SemgrepEngine):
    """Runs `semgrep scan` offline; the reference route the core engine is checked against."""

    def __init__(
        self,
        ruleset: Ruleset | None = None,
        *,
        semgrep_path: Path | None = None,
        timeout_s: float = 120.0,
        rule_timeout_s: float = 5.0,
        jobs: int = 1,
    ) -> None:
        super().__init__(ruleset, timeout_s=timeout_s, rule_timeout_s=rule_timeout_s, jobs=jobs)
        self.semgrep_path = semgrep_path or find_semgrep_cli()

    def _run(self, targets: Sequence[Path], workdir: Path) -> dict[str, Any]:
        command = [
            str(self.semgrep_path),
            "scan",
            "--metrics=off",
            "--disable-version-check",
            "--disable-nosem",
            "--no-git-ignore",
            "--oss-only",
            "--json",
            "--quiet",
            "--jobs",
            str(self.jobs),
            "--timeout",
            f"{self.rule_timeout_s:g}",
            "--max-target-bytes",
            "0",
        ]
        for rule_file in self.ruleset.files:
            command += ["--config", str(rule_file)]
        command += [str(t) for t in targets]
        return self._execute(command, workdir)


def find_semgrep_core() -> Path:
    """The semgrep-core binary shipped in the semgrep wheel, else one on PATH."""
    spec = importlib.util.find_spec("semgrep")
    if spec is not None and spec.origin is not None:
        bundled = Path(spec.origin).parent / "bin" / "semgrep-core"
        if bundled.is_file():
            return bundled
    found = shutil.which("semgrep-core")
    if found is None:
        raise ScanUnavailable(
            "semgrep-core not found: install the scanner with pip install 'runsurge[coordinator]'"
        )
    return Path(found)


def find_semgrep_cli() -> Path:
    """The `semgrep` command next to this interpreter, else one on PATH."""
    beside = Path(sys.executable).parent / "semgrep"
    if beside.is_file():
        return beside
    found = shutil.which("semgrep")
    if found is None:
        raise ScanUnavailable(
            "semgrep not found: install the scanner with pip install 'runsurge[coordinator]'"
        )
    return Path(found)


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    # The CLI forks semgrep-core; killing only the CLI would leave the core running.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.communicate()
