"""Options shared by every subcommand (set on the root command)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import typer

from optout_relay_dev.cli.target import DEFAULT_STATE_DIR


@dataclass(frozen=True)
class AppContext:
    state_dir: Path = DEFAULT_STATE_DIR


def state_dir_of(ctx: typer.Context) -> Path:
    root = ctx.find_root().obj
    return root.state_dir if isinstance(root, AppContext) else DEFAULT_STATE_DIR
