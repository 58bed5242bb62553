"""What the team-scoped data commands share: the team by its name, every typed refusal as one line (exit 2), and
rows printed as JSON, as a table on a terminal, or as tab-separated lines for scripts."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from app.cli.admin import run_on_database
from app.cli.common import print_table
from app.db.repositories.identity import team_named
from app.errors import AdjutantError, InvalidRequest
from app.runtime.settings import Settings

T = TypeVar("T")


async def team_id_named(team: str) -> int:
    owner = await team_named(team)
    if owner is None:
        raise InvalidRequest(f"no team named {team!r}")
    return owner.id


def on_database(settings: Settings, action: Callable[[], Awaitable[T]]) -> T:
    """`run_on_database`, with every typed refusal (not found, conflict, a service's answer) as one line."""

    async def run() -> T:
        try:
            return await action()
        except AdjutantError as exc:
            if isinstance(exc, InvalidRequest):
                raise
            raise InvalidRequest(exc.detail) from None

    return run_on_database(settings, run)


def print_rows(rows: list[dict[str, Any]], columns: tuple[str, ...], as_json: bool) -> None:
    if as_json:
        print(json.dumps(rows, indent=2, default=str))
        return
    print_table(columns, [tuple("" if row.get(c) is None else str(row.get(c)) for c in columns) for row in rows])
