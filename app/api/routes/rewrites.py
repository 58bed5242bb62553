"""Helper-model rewrites for the extension (docs/protocol.md §4.1): an enhanced user query and an edited
terminal command. Both answer `null` rather than an error when no model can help."""

from __future__ import annotations

from pydantic import BaseModel, Field
from sanic import Blueprint, Request
from sanic.response import HTTPResponse

from app.api.envelopes import success
from app.api.openapi import OPTIONAL_SESSION_ID, SESSION_ID, documented
from app.api.session_header import optional_session, required_session
from app.api.validation import parse_body
from app.chat.rewrites import Rewrites
from app.db.wire_types import WireStr

bp = Blueprint("rewrites")


class EnhanceQueryBody(BaseModel):
    user_query: WireStr = Field(min_length=1, max_length=20_000)


class EnhancedQueryData(BaseModel):
    enhanced_query: str | None


class TerminalCommandEditBody(BaseModel):
    query: WireStr = Field(min_length=1, max_length=10_000, description="How the user wants the command changed.")
    old_terminal_command: WireStr = Field(min_length=1, max_length=20_000)
    os_name: WireStr | None = Field(default=None, max_length=64)
    shell: WireStr | None = Field(default=None, max_length=64)


class TerminalCommandData(BaseModel):
    terminal_command: str | None


def rewrites(request: Request) -> Rewrites:
    return request.app.ctx.rewrites


@bp.post("/end_user/v2/code-gen/generate-enhanced-user-query")
@documented(
    summary="Rewrite a user query for a better answer",
    description="enhanced_query is null when no model can help.",
    body=EnhanceQueryBody,
    response=EnhancedQueryData,
    headers=[OPTIONAL_SESSION_ID],
    errors=[404],
    tag="rewrites",
)
async def enhanced_user_query(request: Request) -> HTTPResponse:
    body = parse_body(request, EnhanceQueryBody)
    await optional_session(request)
    data = EnhancedQueryData(enhanced_query=await rewrites(request).enhanced_query(body.user_query))
    return success(data.model_dump())


@bp.post("/end_user/v2/code-gen/terminal-command-edit")
@documented(
    summary="Edit a terminal command as the user asks",
    description="terminal_command is null when no model can help.",
    body=TerminalCommandEditBody,
    response=TerminalCommandData,
    headers=[SESSION_ID],
    errors=[404],
    tag="rewrites",
)
async def terminal_command_edit(request: Request) -> HTTPResponse:
    body = parse_body(request, TerminalCommandEditBody)
    await required_session(request)
    command = await rewrites(request).edited_command(
        query=body.query,
        old_terminal_command=body.old_terminal_command,
        os_name=body.os_name or "unknown",
        shell=body.shell or "unknown",
    )
    return success(TerminalCommandData(terminal_command=command).model_dump())
