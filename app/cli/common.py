"""What every data-touching command shares: settings from the same sources, the same --data-dir and
--config options, and one readable line (exit 2) for configuration errors."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Callable, Coroutine, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console

from app.errors import ConfigError, EmbeddedServiceError, MigrationError
from app.runtime.config_loader import load_settings
from app.runtime.logging import configure_logging
from app.runtime.settings import Settings, secret_values

T = TypeVar("T")
console = Console(stderr=True, highlight=False)
out = Console(highlight=False)

DataDirOption = Annotated[
    Path | None,
    typer.Option(
        "--data-dir", help="Directory of embedded PostgreSQL/Redis data (server.data_dir).", show_default=False
    ),
]
ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        help="config.json to overlay on settings.toml (default: ./config.json beside the project).",
        show_default=False,
        exists=True,
        dir_okay=False,
    ),
]


def print_table(header: Sequence[str], lines: Sequence[Sequence[str]]) -> None:
    """Rows as a table on a terminal; scripts get tab-separated lines, never a wrapped table."""
    if not out.is_terminal:
        for line in (header, *lines):
            print("\t".join(line))
        return
    from rich.table import Table

    table = Table(*header)
    for line in lines:
        table.add_row(*line)
    out.print(table)


def fail(message: str, code: int = 2) -> typer.Exit:
    console.print(f"[bold red]adjutant:[/] {message}", markup=True, soft_wrap=True)
    return typer.Exit(code)


def settings_from_cli(
    data_dir: Path | None, config: Path | None, extra: dict[tuple[str, ...], Any] | None = None
) -> Settings:
    if config is not None:
        os.environ["ADJUTANT_CONFIG"] = str(config.resolve())
    overrides = dict(extra or {})
    if data_dir is not None:
        overrides[("server", "data_dir")] = str(data_dir.expanduser().resolve())
    try:
        settings = load_settings(overrides=overrides)
    except ConfigError as exc:
        raise fail(str(exc)) from None
    configure_logging(settings.logging, secret_values(settings), stream=sys.stderr)
    return settings


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn the failures a user can act on into one line and a non-zero exit, not a traceback."""
    try:
        yield
    except (ConfigError, EmbeddedServiceError, MigrationError) as exc:
        raise fail(str(exc), 1) from None
    except OSError as exc:
        raise fail(f"{exc.__class__.__name__}: {exc}", 1) from None


def run_async(factory: Callable[[], Coroutine[Any, Any, T]]) -> T:
    return asyncio.run(factory())
