"""Typer options backed by a settings field, so that `--help` tells the settings' own truth.

Each option defaults to None, meaning "not given": only flags the user typed reach
`load_settings`, and the environment and the settings' defaults fill the rest. The help
text shows the field's description, its default and its environment variable, all read
from the settings class, never written twice.
"""

from __future__ import annotations

from typing import Any

import typer
from pydantic_settings import BaseSettings
from rich.markup import escape

from runsurge.config import env_var


def setting_option(cls: type[BaseSettings], field: str, *param_decls: str) -> Any:
    """A typer.Option for `field` of `cls` (declare the parameter `T | None = None`)."""
    info = cls.model_fields[field]
    parts = [info.description or ""]
    default = shown_default(info.get_default(call_default_factory=True))
    if default:
        parts.append(escape(f"[default: {default}]"))
    parts.append(escape(f"[env var: {env_var(cls, field)}]"))
    return typer.Option(*param_decls, help=" ".join(parts), show_default=False)


def shown_default(value: object) -> str:
    """A default as --help shows it: nothing for off switches and empty values."""
    if value is None or value is False or value == "":
        return ""
    return str(value)
