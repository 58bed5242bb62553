"""A Tortoise field for pgvector's `vector` type.

Values travel through asyncpg in pgvector's binary format once `register_vector_codec` has run on the
connection (see `app.db.connection`); in Python they are plain `list[float]`.
"""

from __future__ import annotations

from typing import Any

from tortoise.fields import Field


class VectorField(Field[list[float]]):
    """`vector` (any dimension) or `vector(n)`; the dimension of each stored row is checked elsewhere."""

    field_type = list
    indexable = False

    def __init__(self, dimensions: int | None = None, **kwargs: Any) -> None:
        if dimensions is not None and not 1 <= dimensions <= 16000:
            raise ValueError("pgvector dimensions must be between 1 and 16000")
        self.dimensions = dimensions
        super().__init__(**kwargs)

    @property
    def SQL_TYPE(self) -> str:  # type: ignore[override]  # noqa: N802 - Tortoise's attribute name
        return f"vector({self.dimensions})" if self.dimensions else "vector"

    def to_db_value(self, value: Any, instance: Any) -> Any:
        if value is None:
            return None
        vector = [float(x) for x in value]
        if self.dimensions is not None and len(vector) != self.dimensions:
            raise ValueError(f"expected {self.dimensions} dimensions, got {len(vector)}")
        return vector

    def to_python_value(self, value: Any) -> list[float] | None:
        if value is None:
            return None
        if hasattr(value, "to_list"):  # pgvector's Vector, as decoded by the asyncpg codec
            value = value.to_list()
        return [float(x) for x in value]
