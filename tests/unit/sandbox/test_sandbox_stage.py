"""The staged interpreter a root agent binds: mountinfo names no host path (issue 15, defect 6)."""

from __future__ import annotations

import os
from pathlib import Path

from runsurge.sandbox.runtime import PythonRuntime, agent_version
from runsurge.sandbox.stage import stage_runtime

VERSION = agent_version()


def _fake_prefix(root: Path) -> PythonRuntime:
    prefix = root / "home" / "alice" / ".pyenv" / "versions" / "x"
    stdlib = prefix / "lib" / f"python{VERSION}"
    for relative, text in {
        f"bin/python{VERSION}": "#!interpreter",
        "bin/aws": "#!a host tool",
        f"lib/libpython{VERSION}.so.1.0": "ELF",
        f"lib/python{VERSION}/os.py": "# os",
        f"lib/python{VERSION}/encodings/__init__.py": "# encodings",
        f"lib/python{VERSION}/site-packages/private_package.py": "SECRET = 1",
        "include/python.h": "/* header */",
    }.items():
        (prefix / relative).parent.mkdir(parents=True, exist_ok=True)
        (prefix / relative).write_text(text)
    (prefix / "lib" / f"libpython{VERSION}.so").symlink_to(f"libpython{VERSION}.so.1.0")
    assert stdlib.is_dir()
    return PythonRuntime(prefix, prefix / "bin" / f"python{VERSION}", (), (), True, VERSION)


def test_the_stage_holds_the_interpreter_and_stdlib_only(tmp_path: Path) -> None:
    runtime = _fake_prefix(tmp_path)
    staged = stage_runtime(runtime, tmp_path / "stage")
    files = {str(p.relative_to(staged.prefix)) for p in staged.prefix.rglob("*")}
    assert f"lib/python{VERSION}/os.py" in files
    assert f"lib/python{VERSION}/encodings/__init__.py" in files
    assert f"lib/libpython{VERSION}.so.1.0" in files and staged.executable.is_file()
    assert not any("site-packages" in f or "aws" in f or "include" in f for f in files), files
    assert (staged.prefix / "lib" / f"libpython{VERSION}.so").is_symlink()
    # Hard links: staging costs no copy of the data.
    source, copy = runtime.prefix / "lib" / f"python{VERSION}/os.py", staged.prefix / "lib"
    assert os.stat(source).st_ino == os.stat(copy / f"python{VERSION}/os.py").st_ino


def test_the_stage_path_names_nothing_of_where_the_interpreter_lives(tmp_path: Path) -> None:
    staged = stage_runtime(_fake_prefix(tmp_path), tmp_path / "stage")
    assert staged.prefix.parent == tmp_path / "stage"
    assert "alice" not in staged.prefix.name and "pyenv" not in staged.prefix.name
    assert staged.prefix.name.startswith("python")


def test_an_unchanged_interpreter_reuses_its_stage_and_a_changed_one_gets_a_new_one(
    tmp_path: Path,
) -> None:
    runtime = _fake_prefix(tmp_path)
    first = stage_runtime(runtime, tmp_path / "stage")
    assert stage_runtime(runtime, tmp_path / "stage").prefix == first.prefix
    new_module = runtime.prefix / "lib" / f"python{VERSION}" / "encodings" / "new_codec.py"
    new_module.write_text("# added by an upgrade")
    second = stage_runtime(runtime, tmp_path / "stage")
    assert second.prefix != first.prefix and first.prefix.is_dir()
    assert (second.prefix / new_module.relative_to(runtime.prefix)).is_file()
    assert sorted(p.name for p in (tmp_path / "stage").iterdir()) == sorted(
        [first.prefix.name, second.prefix.name]
    )  # no half-built directory left behind


def test_a_file_changed_in_place_is_seen_through_its_hard_link(tmp_path: Path) -> None:
    runtime = _fake_prefix(tmp_path)
    staged = stage_runtime(runtime, tmp_path / "stage")
    with open(runtime.prefix / "lib" / f"python{VERSION}" / "os.py", "a") as f:
        f.write("\n# patched")
    assert (staged.prefix / "lib" / f"python{VERSION}" / "os.py").read_text().endswith("patched")
