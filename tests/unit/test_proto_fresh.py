"""The committed gRPC stubs are exactly what `make proto` generates from proto/."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_generated_stubs_match_the_proto_files(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gen_proto.py"), "--out", str(tmp_path)],
        check=True,
        capture_output=True,
    )
    committed = ROOT / "src" / "runsurge" / "proto" / "v1"
    fresh = {p.name: p.read_text() for p in tmp_path.glob("*.py*")}
    current = {p.name: p.read_text() for p in committed.glob("*.py*")}
    assert fresh.keys() == current.keys()
    stale = [name for name in fresh if fresh[name] != current[name]]
    assert not stale, f"stale stubs {stale}: run `make proto`"
