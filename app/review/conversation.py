"""One reviewer's pass over a diff, as a resumable conversation both review drivers use.

A driver calls `step` and gets one outcome: tools to run (client tools in the IDE, server tools on a PR),
the reviewer's findings, or a failure. Tool results come back through `add_tool_result`; the conversation
can be stored between round trips (`to_state` / `from_state`). The rules every driver relies on live here:
unknown tools and bad arguments are answered inside the conversation (never handed to a driver), a reply
without a tool call gets one corrective retry, at the tool-step cap only `report_findings` is offered, and
findings arrive only through `report_findings`, checked entry by entry.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from app.errors import LLMError, LLMTimeout, ReviewStateInvalid
from app.llm.router import LLMRouter
from app.llm.tokens import count_text
from app.llm.types import (
    LLMRequest,
    LLMResponse,
    Message,
    TextPart,
    ToolCallPart,
    ToolChoice,
    ToolResultPart,
    ToolSpec,
    Usage,
)
from app.review.arguments import argument_problems
from app.review.findings import Finding, ReportedFinding, ReportFindingsInput
from app.review.packing import PackedDiff
from app.review.prompt import REPORT_TOOL, ReviewContext, system_prompt, user_prompt
from app.review.reviewers import ReviewerSpec

__all__ = [
    "REPORT_TOOL",
    "Failed",
    "Findings",
    "ReviewContext",
    "ReviewModel",
    "ReviewerConversation",
    "ReviewerOutcome",
    "ToolRequests",
]

STATE_VERSION = 1
MAX_REPORTED = 100  # findings one report may carry; more is noise, not a review
TOOL_RESULT_TOKENS = 8000
REPORT_SPEC = ToolSpec.from_model(
    REPORT_TOOL,
    "Finish the review: report every finding at once (an empty list when there is none). Call it exactly once.",
    ReportFindingsInput,
)
CORRECTION = (
    f"Your reply did not call a tool. Finish the review now by calling {REPORT_TOOL} with your findings "
    "(an empty list if there are none)."
)


class ReviewModel:
    """How a conversation calls the model: one bounded, deterministic call through the router."""

    def __init__(self, router: LLMRouter, model: str, *, timeout_s: float, max_output_tokens: int) -> None:
        self.router = router
        self.model = model
        self.timeout_s = timeout_s
        self.max_output_tokens = max_output_tokens

    async def complete(
        self, messages: list[Message], tools: tuple[ToolSpec, ...], choice: ToolChoice, *, purpose: str = "review"
    ) -> LLMResponse:
        request = LLMRequest(
            model=self.model,
            messages=tuple(messages),
            tools=tools,
            tool_choice=choice,
            max_output_tokens=self.max_output_tokens,
            temperature=0,
            purpose=purpose,
        )
        try:
            async with asyncio.timeout(self.timeout_s):
                return await self.router.complete(request)
        except TimeoutError:
            raise LLMTimeout(f"no answer within {self.timeout_s:.0f} s", model=self.model) from None

    def input_token_limit(self) -> int:
        """The model's input limit (raises ModelUnavailable when it is not usable here)."""
        return self.router.registry.get(self.model).spec.input_token_limit


@dataclass
class ToolRequests:
    """Tools the driver must run; answer each with `add_tool_result`, then `step` again."""

    calls: list[ToolCallPart]


@dataclass
class Findings:
    """The reviewer finished; `rejected` holds report entries that were not valid, with the reason."""

    findings: list[Finding]
    rejected: list[tuple[dict[str, Any], str]] = field(default_factory=list)


@dataclass
class Failed:
    reason: str


ReviewerOutcome = ToolRequests | Findings | Failed


class ReviewerConversation:
    def __init__(
        self,
        reviewer: ReviewerSpec,
        messages: list[Message],
        tools: tuple[ToolSpec, ...],
        *,
        max_tool_steps: int,
        tool_result_tokens: int = TOOL_RESULT_TOKENS,
    ) -> None:
        self.reviewer = reviewer
        self.messages = messages
        self.tools = tools
        self.max_tool_steps = max_tool_steps
        self.tool_result_tokens = tool_result_tokens
        self.tool_steps = 0
        self.awaiting: list[ToolCallPart] = []  # the calls of the last reply, in order
        self.results: dict[str, ToolResultPart] = {}  # answers to some of them so far
        self.outcome: Findings | Failed | None = None
        self.usage = Usage()

    @classmethod
    def start(
        cls,
        reviewer: ReviewerSpec,
        context: ReviewContext,
        diff: PackedDiff,
        *,
        tools: tuple[ToolSpec, ...] = (),
        max_tool_steps: int = 25,
        tool_result_tokens: int = TOOL_RESULT_TOKENS,
    ) -> ReviewerConversation:
        offered = tuple(t for t in tools if t.name != REPORT_TOOL) if reviewer.tools_enabled else ()
        messages = [
            Message.system(system_prompt(reviewer, context.rules, diff, tools=bool(offered)), cache_breakpoint=True),
            Message.user(user_prompt(context, diff, tickets=reviewer.reads_tickets)),
        ]
        return cls(reviewer, messages, offered, max_tool_steps=max_tool_steps, tool_result_tokens=tool_result_tokens)

    @property
    def pending(self) -> list[str]:
        """tool_use_ids whose results the driver still owes."""
        return [call.id for call in self.awaiting if call.id not in self.results]

    @property
    def finished(self) -> bool:
        return self.outcome is not None

    async def step(self, model: ReviewModel) -> ReviewerOutcome:
        """One model call (a reply with no usable tool call gets one corrective retry; calls answered here,
        such as unknown tools or bad arguments, lead to the next call within the tool-step cap)."""
        if self.outcome is not None:
            return self.outcome
        if self.pending:
            raise ReviewStateInvalid(f"tool results missing for {', '.join(self.pending)}")
        corrected = False
        while True:
            final = self.tool_steps >= self.max_tool_steps
            offered = (REPORT_SPEC,) if final else (*self.tools, REPORT_SPEC)
            choice = ToolChoice(mode="tool", name=REPORT_TOOL) if final else ToolChoice(mode="auto")
            try:
                response = await model.complete(self.messages, offered, choice)
            except LLMError as exc:
                return self._end(Failed(f"the model call failed: {exc.message}"))
            self.usage = self.usage + response.usage
            calls = _unique(response.tool_calls)
            report = next((call for call in calls if call.name == REPORT_TOOL), None)
            if not calls or (final and report is None):
                if corrected:
                    return self._end(Failed(f"the reviewer did not call {REPORT_TOOL} after a reminder"))
                corrected = True
                self._remind(response)
                continue
            self.messages.append(response.message)
            self.awaiting = calls
            if report is not None:
                outcome = self._take_report(report, calls)
                if outcome is not None:
                    return self._end(outcome)
                if final:  # an unusable report at the cap counts as the one reminder
                    if corrected:
                        return self._end(Failed(f"the reviewer sent no usable {REPORT_TOOL} after a reminder"))
                    corrected = True
                continue
            requests = self._check_calls(calls, {t.name: t for t in self.tools} if not final else {})
            if requests:
                return ToolRequests(requests)
            self._flush()

    def add_tool_result(self, tool_use_id: str, text: str, *, is_error: bool = False) -> None:
        call = next((c for c in self.awaiting if c.id == tool_use_id), None)
        if call is None or tool_use_id in self.results:
            raise ReviewStateInvalid(f"no pending tool call {tool_use_id!r}")
        self.results[tool_use_id] = _result(call, _bounded(text, self.tool_result_tokens), is_error=is_error)
        if not self.pending:
            self._flush()

    def to_state(self) -> dict[str, Any]:
        outcome: dict[str, Any] | None = None
        if isinstance(self.outcome, Findings):
            outcome = {
                "kind": "findings",
                "findings": [f.model_dump(mode="json") for f in self.outcome.findings],
                "rejected": [[entry, reason] for entry, reason in self.outcome.rejected],
            }
        elif isinstance(self.outcome, Failed):
            outcome = {"kind": "failed", "reason": self.outcome.reason}
        return {
            "version": STATE_VERSION,
            "reviewer": self.reviewer.key,
            "messages": [m.model_dump(mode="json") for m in self.messages],
            "tools": [t.model_dump(mode="json") for t in self.tools],
            "max_tool_steps": self.max_tool_steps,
            "tool_result_tokens": self.tool_result_tokens,
            "tool_steps": self.tool_steps,
            "awaiting": [c.model_dump(mode="json") for c in self.awaiting],
            "results": [r.model_dump(mode="json") for r in self.results.values()],
            "outcome": outcome,
            "usage": self.usage.model_dump(mode="json"),
        }

    @classmethod
    def from_state(cls, state: dict[str, Any], reviewer: ReviewerSpec) -> ReviewerConversation:
        if state.get("version") != STATE_VERSION or state.get("reviewer") != reviewer.key:
            raise ReviewStateInvalid(f"the stored conversation is not one of reviewer {reviewer.key!r}")
        try:
            conversation = cls(
                reviewer,
                [Message.model_validate(m) for m in state["messages"]],
                tuple(ToolSpec.model_validate(t) for t in state["tools"]),
                max_tool_steps=int(state["max_tool_steps"]),
                tool_result_tokens=int(state["tool_result_tokens"]),
            )
            conversation.tool_steps = int(state["tool_steps"])
            conversation.awaiting = [ToolCallPart.model_validate(c) for c in state["awaiting"]]
            results = [ToolResultPart.model_validate(r) for r in state["results"]]
            conversation.results = {r.tool_call_id: r for r in results}
            conversation.usage = Usage.model_validate(state["usage"])
            outcome = state["outcome"]
            if outcome is not None and outcome["kind"] == "findings":
                conversation.outcome = Findings(
                    [Finding.model_validate(f) for f in outcome["findings"]],
                    [(entry, reason) for entry, reason in outcome["rejected"]],
                )
            elif outcome is not None:
                conversation.outcome = Failed(str(outcome["reason"]))
        except (KeyError, TypeError, ValueError, ValidationError) as exc:
            raise ReviewStateInvalid(f"the stored conversation is unreadable: {exc.__class__.__name__}") from None
        return conversation

    # --- internals ---------------------------------------------------------------------------------------

    def _end(self, outcome: Findings | Failed) -> Findings | Failed:
        self.outcome = outcome
        return outcome

    def _remind(self, response: LLMResponse) -> None:
        note = CORRECTION
        if response.malformed:
            note += " Your tool call could not be read: " + "; ".join(m.reason for m in response.malformed[:3])
        text = response.message.text.strip()
        if text:  # keep what it said, without calls it would then owe results for
            self.messages.append(Message.assistant(TextPart(text=text)))
        self.messages.append(Message.user(note))

    def _check_calls(self, calls: list[ToolCallPart], offered: dict[str, ToolSpec]) -> list[ToolCallPart]:
        """Calls a driver may run; the others are answered here with the reason."""
        requests = []
        for call in calls:
            spec = offered.get(call.name)
            if spec is None:
                names = ", ".join([*offered, REPORT_TOOL])
                self.results[call.id] = _result(call, f"Unknown tool {call.name!r}. Available: {names}.", is_error=True)
                continue
            problem = argument_problems(spec.input_schema, call.arguments)
            if problem:
                self.results[call.id] = _result(
                    call, f"Invalid arguments: {problem}. Fix them and retry.", is_error=True
                )
                continue
            requests.append(call)
        return requests

    def _take_report(self, report: ToolCallPart, calls: list[ToolCallPart]) -> Findings | None:
        """The reviewer's findings, or None when the report itself is unusable (answered, to be retried)."""
        for call in calls:
            if call is not report:
                self.results[call.id] = _result(call, f"Not run: {REPORT_TOOL} ended the review.", is_error=True)
        entries = report.arguments.get("findings")
        if not isinstance(entries, list):
            self.results[report.id] = _result(
                report, "Invalid arguments: `findings` must be a list (it may be empty).", is_error=True
            )
            self._flush()
            return None
        findings: list[Finding] = []
        rejected: list[tuple[dict[str, Any], str]] = []
        for position, entry in enumerate(entries):
            if position >= MAX_REPORTED:
                rejected.append((_as_dict(entry), f"more than {MAX_REPORTED} findings in one report"))
                continue
            try:
                findings.append(ReportedFinding.model_validate(entry).to_finding(self.reviewer.key))
            except ValidationError as exc:
                rejected.append((_as_dict(entry), _reason(exc)))
        summary = f"Received {len(findings)} finding(s)."
        if rejected:
            summary += " Rejected: " + "; ".join(f"#{i + 1}: {why}" for i, (_, why) in enumerate(rejected[:10]))
        self.results[report.id] = _result(report, summary)
        self._flush()
        return Findings(findings, rejected)

    def _flush(self) -> None:
        """Every call of the last reply is answered: the results go into the conversation as one message."""
        self.messages.append(Message.tool_results(*(self.results[c.id] for c in self.awaiting)))
        self.awaiting = []
        self.results = {}
        self.tool_steps += 1


def _unique(calls: list[ToolCallPart]) -> list[ToolCallPart]:
    seen: set[str] = set()
    kept = []
    for call in calls:
        if call.id not in seen:
            seen.add(call.id)
            kept.append(call)
    return kept


def _result(call: ToolCallPart, text: str, *, is_error: bool = False) -> ToolResultPart:
    return ToolResultPart(tool_call_id=call.id, name=call.name, content=(TextPart(text=text),), is_error=is_error)


def _bounded(text: str, budget: int) -> str:
    if count_text(text) <= budget:
        return text
    cut = text[: budget * 3]  # a token is at least ~3 characters of code
    while count_text(cut) > budget and len(cut) > 100:
        cut = cut[: int(len(cut) * 0.8)]
    return cut + f"\n[… truncated to about {budget} tokens]"


def _as_dict(entry: Any) -> dict[str, Any]:
    return entry if isinstance(entry, dict) else {"value": entry}


def _reason(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or 'entry'}: {e['msg']}"
        for e in exc.errors(include_url=False, include_input=False)[:3]
    )
