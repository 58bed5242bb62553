"""The authenticated caller."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Principal:
    user_id: int
    team_id: int
    token_id: int
    email: str
    name: str
    team_name: str
