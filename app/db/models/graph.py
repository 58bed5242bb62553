"""The symbol graph of indexed code: definitions and the references (calls, imports, uses) between them."""

from __future__ import annotations

from tortoise import fields

from app.db.models.base import Model


class CodeSymbol(Model):
    """A definition: a module, class, function, method (or the grammar's equivalent) with its qualified name."""

    id = fields.BigIntField(primary_key=True)
    team = fields.ForeignKeyField("models.Team", related_name=False, on_delete=fields.CASCADE)
    repository = fields.ForeignKeyField("models.Repository", related_name=False, on_delete=fields.CASCADE)
    file = fields.ForeignKeyField("models.CodeFile", related_name=False, on_delete=fields.CASCADE)
    path = fields.TextField()
    language = fields.CharField(max_length=32)
    kind = fields.CharField(max_length=16)
    name = fields.TextField()
    qualified = fields.TextField()
    start_line = fields.IntField()
    end_line = fields.IntField()

    class Meta:
        table = "code_symbols"


class CodeReference(Model):
    """A name used in `source` (the qualified name of the enclosing definition): `target` is the qualified
    name it points at when imports or scope tell, None when only the text is known."""

    id = fields.BigIntField(primary_key=True)
    team = fields.ForeignKeyField("models.Team", related_name=False, on_delete=fields.CASCADE)
    repository = fields.ForeignKeyField("models.Repository", related_name=False, on_delete=fields.CASCADE)
    file = fields.ForeignKeyField("models.CodeFile", related_name=False, on_delete=fields.CASCADE)
    path = fields.TextField()
    language = fields.CharField(max_length=32)
    kind = fields.CharField(max_length=8)
    name = fields.TextField()
    short = fields.TextField()
    target = fields.TextField(null=True)
    source = fields.TextField()
    line = fields.IntField()

    class Meta:
        table = "code_references"
