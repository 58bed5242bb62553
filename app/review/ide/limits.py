"""The bounds of the IDE review (docs/review-protocol.md §8): the client has none, so every one is ours. The
tunable ones come from the `[review]` settings section; the rest are protocol constants."""

from __future__ import annotations

from dataclasses import dataclass

from app.runtime.settings import Settings


@dataclass(frozen=True)
class IdeReviewLimits:
    token_limit: int = 150_000  # a larger review diff is rejected at pre-process
    max_tool_steps: int = 25  # per agent; at the cap the model may only report
    model_timeout_s: float = 300.0  # per model call
    max_output_tokens: int = 8_000  # per model call
    tool_result_tokens: int = 8_000  # what the model sees of one tool result
    context_lines: int = 3  # a finding this close to an added line still counts as on it
    post_process_timeout_s: float = 300.0
    history_cap: int = 50  # newest completed reviews listed
    idle_socket_s: float = 1800.0  # a review socket without messages or work is closed after this
    model: str = ""
    progress_interval_s: float = 5.0  # IN_PROGRESS while an answer is being worked on (the contract says <= 10 s)
    frame_max_bytes: int = 1024 * 1024  # larger client frames are answered with STREAM_START, STREAM_END
    fix_query_chars: int = 12_000  # the fix query is sent as a chat message: well under the chat payload limit
    corrective_code_chars: int = 6_000  # of a comment's suggested fix, in the fix query
    cancel_poll_s: float = 0.5  # how often running steps re-read their reviews' status (a lost pub/sub message)

    @classmethod
    def from_settings(cls, settings: Settings) -> IdeReviewLimits:
        review = settings.review
        return cls(
            token_limit=review.ide_token_limit,
            max_tool_steps=review.max_tool_steps,
            model_timeout_s=review.model_timeout_s,
            max_output_tokens=review.max_output_tokens,
            tool_result_tokens=review.tool_result_tokens,
            context_lines=review.context_lines,
            post_process_timeout_s=review.ide_post_process_timeout_s,
            history_cap=review.ide_history_cap,
            idle_socket_s=review.ide_idle_socket_s,
            model=review.model or settings.llm.default_model,
        )
