"""The base class of every table model."""

from __future__ import annotations

from typing import Any

from tortoise.models import Model as TortoiseModel
from tortoise.models import ModelMeta


class QuietModelMeta(ModelMeta):
    """Tortoise's metaclass without its source scan for `#:` field comments.

    Tortoise reads each model class's source (`inspect.getsource`, one parse of the module per class) to find
    `#:` comments; our fields carry no such comments (the schema is SQL in migrations/), and the scan cost
    ~120 ms on every command that opens the database.
    """

    __slots__ = ()

    def __new__(mcs, name: str, bases: tuple[type, ...], attrs: dict[str, Any]) -> QuietModelMeta:
        attrs.setdefault("_no_comments", True)
        return super().__new__(mcs, name, bases, attrs)


class Model(TortoiseModel, metaclass=QuietModelMeta):
    class Meta:
        abstract = True
