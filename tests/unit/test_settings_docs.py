"""docs/operations.md lists every setting of every role, with its real flag and default,
and no page names a variable that does not exist."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import typer
from pydantic_settings import BaseSettings

from runsurge.cli.main import app
from runsurge.config import ClientSettings, ContributorSettings, CoordinatorSettings, env_var

ROOT = Path(__file__).resolve().parents[2]
OPERATIONS = ROOT / "docs" / "operations.md"
# (heading in operations.md, settings class, a command that takes the role's flags)
ROLES = [
    ("Coordinator settings", CoordinatorSettings, "coordinator"),
    ("Contributor settings", ContributorSettings, "contributor"),
    ("Client settings", ClientSettings, "jobs"),
]
ROW = re.compile(r"^\| `(RUNSURGE_\w+)` \| ([^|]+) \| ([^|]+) \| (.+) \|$")
# Variables read outside the settings classes: the base of default paths, and the tests'.
OTHER_VARIABLES = {"RUNSURGE_HOME", "RUNSURGE_TEST_PG"}


def _documented(heading: str) -> dict[str, tuple[str, str]]:
    """variable -> (flag cell, default cell) of the table under `### heading`."""
    text = OPERATIONS.read_text()
    section = text.split(f"### {heading}\n", 1)[1].split("\n#", 1)[0]
    rows: dict[str, tuple[str, str]] = {}
    for line in section.splitlines():
        match = ROW.match(line)
        if match:
            variable, flag, default, _meaning = match.groups()
            assert variable not in rows, f"{variable} is documented twice"
            rows[variable] = (flag.strip(), default.strip())
    return rows


def _flags(command: str) -> dict[str, str]:
    """variable -> long flag, read from the command's own options."""
    flags = {}
    for param in typer.main.get_command(app).commands[command].params:  # type: ignore[attr-defined]
        match = re.search(r"env var: (RUNSURGE_\w+)", getattr(param, "help", None) or "")
        if match:
            flags[match.group(1)] = next(o for o in param.opts if o.startswith("--"))
    return flags


def _default_cell(value: object) -> str:
    """How a plain default is written in the tables."""
    if value is None:
        return "unset"
    if value == "":
        return "empty"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    return f"`{value}`"


@pytest.mark.parametrize(("heading", "cls", "command"), ROLES)
def test_every_setting_is_documented_with_its_flag_and_default(
    heading: str, cls: type[BaseSettings], command: str
) -> None:
    documented = _documented(heading)
    variables = {env_var(cls, name): name for name in cls.model_fields}
    assert set(documented) == set(variables), "docs/operations.md and the settings differ"
    flags = _flags(command)
    assert set(flags) <= set(variables)
    for variable, (flag_cell, default_cell) in documented.items():
        assert flag_cell == (f"`{flags[variable]}`" if variable in flags else "—"), variable
        info = cls.model_fields[variables[variable]]
        if info.default_factory is None:  # computed defaults are described in words
            assert default_cell.startswith(_default_cell(info.default)), variable


def test_no_page_names_a_variable_that_does_not_exist() -> None:
    known = OTHER_VARIABLES | {
        env_var(cls, name) for _, cls, _ in ROLES for name in cls.model_fields
    }
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    for page in pages:
        # A name ending in "_" is a prefix ("RUNSURGE_CONTRIBUTOR_…"), not a variable.
        named = {n for n in re.findall(r"RUNSURGE_[A-Z_]+", page.read_text()) if n[-1] != "_"}
        assert named <= known, f"{page.name} names unknown variables: {sorted(named - known)}"
