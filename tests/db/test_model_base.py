"""Every table model is built by our quiet metaclass: Tortoise's own reads the model's source file for `#:`
comments, one parse per class, which cost every database command ~120 ms at start-up."""

from __future__ import annotations

import inspect

from tortoise.models import Model as TortoiseModel

import app.db.models as models
from app.db.models.base import QuietModelMeta


def test_every_model_skips_the_source_scan():
    tables = [m for m in vars(models).values() if inspect.isclass(m) and issubclass(m, TortoiseModel)]
    assert len(tables) > 40
    assert [m.__name__ for m in tables if not isinstance(m, QuietModelMeta)] == []
    assert all(m.__dict__.get("_no_comments") is True for m in tables)
