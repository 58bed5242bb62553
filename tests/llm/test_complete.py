"""Non-streaming calls per provider, and history translation: what each provider receives for a
conversation with thinking, tool calls, tool results and images."""

from __future__ import annotations

import base64

from app.llm.providers.base import ModelCall
from app.llm.types import (
    ImagePart,
    LLMRequest,
    Message,
    TextPart,
    ThinkingPart,
    ToolCallPart,
    tool_result,
)
from app.runtime.settings import ModelRoute
from tests.fakes.llm_server import Reply
from tests.llm.conftest import TOOLS, keys_for, pool_for, registry_of, spec

ROUTES = {
    "openai": ModelRoute(provider="openai", model="gpt-test"),
    "chat": ModelRoute(provider="openai_compatible", model="qwen", base_url="PLACEHOLDER"),
    "anthropic": ModelRoute(provider="anthropic", model="claude-test"),
    "gemini": ModelRoute(provider="gemini", model="gemini-test"),
}


def adapter_and_model(fake, kind: str):
    route = ROUTES[kind]
    if kind == "chat":
        route = route.model_copy(update={"base_url": fake.base_url + "/v1"})
    keys = keys_for(fake.base_url)
    model = registry_of(keys, spec("m", route, supports_caching=True)).get("m")
    return pool_for(keys)(route), model, route


async def complete(fake, kind: str, body: dict, request: LLMRequest | None = None):
    fake.queue(Reply(body=body))
    adapter, model, route = adapter_and_model(fake, kind)
    try:
        return await adapter.complete(
            ModelCall(request or LLMRequest(model="m", messages=(Message.user("hi"),), tools=TOOLS), model, route)
        )
    finally:
        await adapter.aclose()


async def test_openai_responses_non_streaming(fake_llm):
    response = await complete(
        fake_llm,
        "openai",
        {
            "id": "r",
            "status": "completed",
            "output": [
                {
                    "type": "reasoning",
                    "id": "rs_1",
                    "summary": [{"type": "summary_text", "text": "hm"}],
                    "encrypted_content": "enc",
                },
                {
                    "type": "message",
                    "id": "m",
                    "role": "assistant",
                    "content": [{"type": "output_text", "text": "Let me read."}],
                },
                {
                    "type": "function_call",
                    "id": "fc",
                    "call_id": "call_1",
                    "name": "read_file",
                    "arguments": '{"path": "a"}',
                },
            ],
            "usage": {"input_tokens": 10, "output_tokens": 5, "input_tokens_details": {"cached_tokens": 4}},
        },
    )
    assert response.text == "Let me read." and response.finish == "tool_calls"
    assert response.tool_calls == [ToolCallPart(id="call_1", name="read_file", arguments={"path": "a"})]
    thinking = response.message.parts[0]
    assert isinstance(thinking, ThinkingPart) and (thinking.redacted, thinking.item_id) == ("enc", "rs_1")
    assert response.usage.cache_read_tokens == 4
    assert "stream" not in fake_llm.requests[-1].body


async def test_chat_completions_non_streaming_on_a_compatible_server(fake_llm):
    response = await complete(
        fake_llm,
        "chat",
        {
            "id": "c",
            "object": "chat.completion",
            "choices": [
                {
                    "index": 0,
                    "finish_reason": "tool_calls",
                    "message": {
                        "role": "assistant",
                        "content": None,
                        "tool_calls": [
                            {
                                "id": "call_9",
                                "type": "function",
                                "function": {"name": "grep", "arguments": '{"pattern": "x"}'},
                            }
                        ],
                    },
                }
            ],
            "usage": {"prompt_tokens": 7, "completion_tokens": 3},
        },
    )
    assert response.tool_calls[0].arguments == {"pattern": "x"} and response.finish == "tool_calls"
    assert fake_llm.requests[-1].path == "/v1/chat/completions"
    assert fake_llm.requests[-1].headers["authorization"] == "Bearer not-needed"


async def test_anthropic_non_streaming(fake_llm):
    response = await complete(
        fake_llm,
        "anthropic",
        {
            "id": "m",
            "type": "message",
            "role": "assistant",
            "model": "c",
            "stop_reason": "tool_use",
            "content": [
                {"type": "thinking", "thinking": "plan", "signature": "sig=="},
                {"type": "text", "text": "Reading."},
                {"type": "tool_use", "id": "toolu_1", "name": "read_file", "input": {"path": "b"}},
            ],
            "usage": {"input_tokens": 3, "output_tokens": 9, "cache_read_input_tokens": 100},
        },
    )
    assert [p.type for p in response.message.parts] == ["thinking", "text", "tool_call"]
    assert response.message.parts[0].signature == "sig==" and response.message.parts[0].provider == "anthropic"
    assert response.usage.input_tokens == 103 and response.usage.cache_read_tokens == 100


async def test_gemini_non_streaming(fake_llm):
    response = await complete(
        fake_llm,
        "gemini",
        {
            "candidates": [
                {"index": 0, "finishReason": "STOP", "content": {"role": "model", "parts": [{"text": "Done."}]}}
            ],
            "usageMetadata": {"promptTokenCount": 4, "candidatesTokenCount": 2},
        },
    )
    assert response.text == "Done." and response.finish == "stop" and response.usage.input_tokens == 4
    assert ":generateContent" in fake_llm.requests[-1].path


def history() -> LLMRequest:
    call = ToolCallPart(
        id="toolu_1", name="read_file", arguments={"path": "a.py"}, signature=base64.b64encode(b"sig").decode()
    )
    image = ImagePart(media_type="image/png", data=base64.b64encode(b"\x89PNG").decode())
    return LLMRequest(
        model="m",
        tools=TOOLS,
        messages=(
            Message.system("Be terse.", cache_breakpoint=True),
            Message.user("What is in a.py?", image),
            Message.assistant(
                ThinkingPart(text="read it", signature="sig-anthropic", provider="anthropic"),
                TextPart(text="Reading."),
                call,
            ),
            Message.tool_results(tool_result(call, "print('hi')")),
            Message.user("and now?"),
        ),
    )


async def sent_for(fake, kind: str) -> dict:
    fake.queue(Reply(body={}))  # whatever comes back, we only inspect the request
    adapter, model, route = adapter_and_model(fake, kind)
    try:
        await adapter.complete(ModelCall(history(), model, route))
    except Exception:  # noqa: BLE001, S110 - the empty reply may not parse; the request is what matters
        pass
    finally:
        await adapter.aclose()
    return fake.requests[-1].body


async def test_anthropic_gets_its_thinking_back_with_the_signature_and_results_in_a_user_turn(fake_llm):
    body = await sent_for(fake_llm, "anthropic")
    turns = body["messages"]
    assert [t["role"] for t in turns] == ["user", "assistant", "user"]
    assert turns[0]["content"][1]["type"] == "image"
    assert turns[1]["content"][0] == {"type": "thinking", "thinking": "read it", "signature": "sig-anthropic"}
    assert turns[1]["content"][2] == {
        "type": "tool_use",
        "id": "toolu_1",
        "name": "read_file",
        "input": {"path": "a.py"},
    }
    tool_result_block = turns[2]["content"][0]
    assert tool_result_block["type"] == "tool_result" and tool_result_block["tool_use_id"] == "toolu_1"
    assert turns[2]["content"][-1]["cache_control"] == {"type": "ephemeral"}


async def test_other_providers_never_receive_anthropic_thinking(fake_llm):
    body = await sent_for(fake_llm, "openai")
    kinds = [item.get("type", item.get("role")) for item in body["input"]]
    assert kinds == ["user", "assistant", "function_call", "function_call_output", "user"]
    assert body["input"][3] == {"type": "function_call_output", "call_id": "toolu_1", "output": "print('hi')"}
    assert "read it" not in str(body)
    chat = await sent_for(fake_llm, "chat")
    assert [m["role"] for m in chat["messages"]] == ["system", "user", "assistant", "tool", "user"]
    assert chat["messages"][2]["tool_calls"][0]["function"]["name"] == "read_file"


async def test_gemini_gets_function_calls_with_their_thought_signature(fake_llm):
    body = await sent_for(fake_llm, "gemini")
    contents = body["contents"]
    assert [c["role"] for c in contents] == ["user", "model", "user"]
    call_part = contents[1]["parts"][-1]
    assert call_part["functionCall"] == {"name": "read_file", "args": {"path": "a.py"}}
    assert base64.b64decode(call_part["thoughtSignature"]) == b"sig"
    assert contents[2]["parts"][0]["functionResponse"] == {"name": "read_file", "response": {"output": "print('hi')"}}
