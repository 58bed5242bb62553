"""Settling steps nobody will end: their worker died, or the database was unreachable when they ended.

A step whose row says RUNNING but whose liveness key has expired is settled by whichever worker notices
first (a resume, a new request on its session, a follower's watchdog, or the periodic sweep; the
database's conditional update picks one): its outcome is the terminal frame its buffer already holds, if
any (it ended while the database was away), else a failure. The text it had shown is kept in history,
rebuilt from its buffer, and its followers get the terminal frame.

A step that did end but whose buffer lacks its terminal frame (Redis lost the write) gets one written
from its database row, so a resume ends the same way the step did.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import Any

from app.chat.blocks import element_of
from app.chat.running import RunningSteps
from app.chat.step_stream import SETTLED_START_MS, LiveHub, StepBuffer
from app.chat.wire import is_terminal, utc_timestamp
from app.db.models import Step
from app.db.repositories import chat as repo
from app.runtime.tasks import stop_task

log = logging.getLogger("adjutant.chat")
LOST_STATUS, LOST_MESSAGE = "INTERNAL_ERROR", "The server running this step stopped"
BLOCK_TYPES = frozenset({"TEXT", "THINKING", "CODE_BLOCK", "TASK_PLAN"})
OUTCOME_OF_END = {"STREAM_END_CLOSE_CONNECTION": "COMPLETED", "STREAM_END": "TOOL_TURN"}


class StepSettler:
    def __init__(self, *, buffer: StepBuffer, hub: LiveHub, running: RunningSteps, interval_s: float) -> None:
        self.buffer = buffer
        self.hub = hub
        self.running = running
        self.interval_s = interval_s
        self._sweeper: asyncio.Task[None] | None = None
        self._settling: set[asyncio.Task[None]] = set()

    async def settle_session(self, session_id: int) -> None:
        """Before a new request on a session: settle its lost steps, so it is not busy with a dead one."""
        for step in await repo.running_steps(session_id):
            await self.settle(step)

    async def settle_stream(self, stream_id: str) -> None:
        step = await repo.step_by_stream(stream_id)
        if step is not None:
            await self.settle(step)

    async def settle(self, step: Step) -> None:
        if await self.running.is_alive(step.stream_id):
            return
        last = await self.buffer.last(step.stream_id)
        ending = last if last is not None and is_terminal(last) else None
        if step.status == repo.RUNNING:
            await self._settle_running(step, ending)
        elif ending is None and (last is not None or await self.buffer.exists(step.stream_id)):
            await self._write_ending(step)

    async def watch(self, stream_id: str) -> None:
        """Beside a connection following a step: settle the step as soon as its worker is lost."""
        while True:
            await asyncio.sleep(self.running.heartbeat_s)
            try:
                if not await self.running.is_alive(stream_id):
                    # Shielded: the ending this settle publishes ends the relay, whose cleanup cancels this
                    # watch, and a cancel between the ending and the stored text lost the text.
                    settling = asyncio.create_task(self.settle_stream(stream_id), name=f"settle-{stream_id}")
                    self._settling.add(settling)
                    settling.add_done_callback(self._settling.discard)
                    await asyncio.shield(settling)
            except Exception as exc:  # noqa: BLE001 - checked again next time; the relay itself is unaffected
                log.info("could not check step %s (%s)", stream_id, exc)

    # --- the periodic sweep (also at start) -----------------------------------------------------------------

    def start(self) -> None:
        self._sweeper = asyncio.create_task(self._sweep_forever(), name="step-settler")

    async def stop(self) -> None:
        if self._sweeper is not None:
            await stop_task(self._sweeper)

    async def sweep(self) -> int:
        """Settle every lost step of the deployment; returns how many were looked at."""
        moment = repo.now() - timedelta(seconds=self.running.heartbeat_ttl_s)
        steps = await repo.running_steps_started_before(moment)
        for step in steps:
            await self.settle(step)
        return len(steps)

    async def _sweep_forever(self) -> None:
        failing = False  # an outage is logged once, not every round
        while True:
            try:
                await self.sweep()
                failing = False
            except Exception as exc:  # the database or Redis is away: next round
                log.warning("settling lost steps failed (%s)", exc, exc_info=not failing)
                failing = True
            await asyncio.sleep(self.interval_s)

    # --- the two repairs ------------------------------------------------------------------------------------

    async def _settle_running(self, step: Step, ending: dict[str, Any] | None) -> None:
        frames = await self.buffer.read_after(step.stream_id, None)
        status, end_event, error, query_status = outcome_of(ending, frames)
        won = await repo.finish_step(
            step.id,
            status=status,
            end_event=end_event,
            error=error,
            query_id=step.user_query_id,
            query_status=query_status,
        )
        if not won:
            return  # another worker settled it a moment ago
        log.warning("settled step %s as %s: its worker was lost", step.stream_id, status)
        if ending is None:
            frame = settled_frame(0, "STREAM_ERROR", status=LOST_STATUS, message=LOST_MESSAGE)
            if not await self.buffer.append_ending(step.stream_id, [frame]):
                return  # a resume wrote the same ending from the row first, and keeps the text
            self.hub.publish(step.stream_id, [frame])
        await self._keep_shown_text(step, frames)

    async def _write_ending(self, step: Step) -> None:
        """Whoever writes the missing ending (the ids are fixed: one writer wins) also keeps the text."""
        frames = await self.ending_from_row(step)
        if await self.buffer.append_ending(step.stream_id, frames):
            log.warning("wrote the missing ending of step %s from its %s row", step.stream_id, step.status)
            if step.status != "CANCELLED":  # a cancel is never shown on live connections (docs/protocol.md §9)
                self.hub.publish(step.stream_id, frames)
            await self._keep_shown_text(step, await self.buffer.read_after(step.stream_id, None))

    async def ending_from_row(self, step: Step) -> list[dict[str, Any]]:
        if step.status == "CANCELLED":
            return [settled_frame(0, "STREAM_ERROR", status="CANCELLED", message="Stopped by user")]
        if step.status == "FAILED":
            error = step.error or {}
            return [
                settled_frame(
                    0,
                    "STREAM_ERROR",
                    status=str(error.get("status") or LOST_STATUS),
                    message=str(error.get("message") or "The step failed"),
                )
            ]
        if step.end_event == "STREAM_END_CLOSE_CONNECTION":
            query = await repo.get_query(step.user_query_id)
            completion = {"query_id": query.id, "success": query.status == "COMPLETED", "summary": query.summary}
            return [
                settled_frame(0, "TASK_COMPLETION", content=completion),
                settled_frame(1, "QUERY_COMPLETE"),
                settled_frame(2, "STREAM_END_CLOSE_CONNECTION"),
            ]
        return [settled_frame(0, "STREAM_END")]

    async def _keep_shown_text(self, step: Step, frames: list[dict[str, Any]]) -> None:
        """Persist the blocks the step showed but its worker did not get to store."""
        shown = blocks_of(frames)
        prompts = {t.chat_element_id for t in await repo.tool_uses_of_step(step.id)}
        stored = [
            e
            for e in await repo.step_elements(step.id)
            if e.actor == "ASSISTANT" and e.message_type in BLOCK_TYPES and e.id not in prompts
        ]
        for message_type, payload in shown[len(stored) :]:
            await repo.add_element(
                team_id=step.team_id,
                session_id=step.session_id,
                actor="ASSISTANT",
                message_type=message_type,
                payload=payload,
                user_query_id=step.user_query_id,
                step_id=step.id,
            )


def settled_frame(sequence: int, kind: str, content: dict[str, Any] | None = None, **data: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"type": kind, **data}
    if content is not None:
        body["content"] = content
    return {"message_id": f"{SETTLED_START_MS}-{sequence}", "data": body, "stream_timestamp": utc_timestamp()}


def outcome_of(
    ending: dict[str, Any] | None, frames: list[dict[str, Any]]
) -> tuple[str, str, dict[str, Any] | None, str | None]:
    """(step status, end event, error, query status) of a lost step, from the ending its buffer holds."""
    if ending is None:
        return "FAILED", "STREAM_ERROR", {"status": LOST_STATUS, "message": LOST_MESSAGE}, None
    data = ending["data"]
    if data["type"] == "STREAM_ERROR":
        status = "CANCELLED" if data.get("status") == "CANCELLED" else "FAILED"
        return status, "STREAM_ERROR", {"status": data.get("status"), "message": data.get("message")}, None
    if data["type"] == "STREAM_END_CLOSE_CONNECTION":
        completion = next((f for f in frames if f["data"]["type"] == "TASK_COMPLETION"), None)
        success = bool(completion and completion["data"].get("content", {}).get("success"))
        return "COMPLETED", data["type"], None, "COMPLETED" if success else "FAILED"
    malformed = any(f["data"]["type"] == "MALFORMED_TOOL_USE_REQUEST" for f in frames)
    return ("MALFORMED" if malformed else "TOOL_TURN"), data["type"], None, None


def blocks_of(frames: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    """The chat elements a step's frames showed, in order; an unfinished block with content counts."""
    elements: list[tuple[str, dict[str, Any]]] = []
    open_kind: str | None = None
    parts: list[str] = []
    attributes: dict[str, Any] = {}
    for frame in frames:
        kind, content = frame["data"]["type"], frame["data"].get("content") or {}
        if kind in ("TEXT_START", "THINKING_BLOCK_START", "CODE_BLOCK_START"):
            open_kind, parts = {"TEXT_START": "text", "THINKING_BLOCK_START": "thinking"}.get(kind, "code"), []
            attributes = {
                "language": content.get("language", ""),
                "file_path": content.get("filepath", ""),
                "is_diff": bool(content.get("is_diff")),
            }
        elif kind in ("TEXT_DELTA", "THINKING_BLOCK_DELTA", "CODE_BLOCK_DELTA") and open_kind is not None:
            parts.append(str(content.get("text") or content.get("thinking_delta") or content.get("code_delta") or ""))
        elif kind in ("TEXT_BLOCK_END", "THINKING_BLOCK_END", "CODE_BLOCK_END") and open_kind is not None:
            elements.append(element_of(open_kind, "".join(parts), attributes))
            open_kind = None
        elif kind == "TASK_PLAN":
            elements.append(("TASK_PLAN", {"latest_plan_steps": content.get("latest_plan_steps", [])}))
    if open_kind is not None and "".join(parts):
        elements.append(element_of(open_kind, "".join(parts), attributes))
    return elements
