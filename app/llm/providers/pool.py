"""Building adapters from settings, once per distinct endpoint, and closing them on shutdown."""

from __future__ import annotations

import os
from collections.abc import Mapping

import httpx

from app.llm.providers.base import Provider
from app.runtime.settings import ModelRoute, ProviderKeys, RouterSettings


class ProviderPool:
    """Maps a route to its adapter. SDK retries are off: the router owns retries, backoff and fallback."""

    def __init__(
        self,
        keys: ProviderKeys,
        policy: RouterSettings,
        environ: Mapping[str, str] | None = None,
        google_credentials: object | None = None,
    ) -> None:
        self.keys = keys
        self.policy = policy
        self.environ = os.environ if environ is None else environ
        # Vertex AI authenticates with Google credentials; None = application-default credentials (ADC).
        self.google_credentials = google_credentials
        self._adapters: dict[tuple[str, ...], Provider] = {}

    def __call__(self, route: ModelRoute) -> Provider:
        key = (route.provider, route.base_url, route.api_key_env, route.api or "")
        if key not in self._adapters:
            self._adapters[key] = self._build(route)
        return self._adapters[key]

    def _timeout(self, timeout_class: type) -> object:
        """The SDK's own Timeout class (SDKs may bundle their own httpx); reads may pause while the model
        thinks, and the router enforces first-event and idle limits itself."""
        return timeout_class(connect=10.0, read=self.policy.idle_timeout_s, write=30.0, pool=10.0)

    def _build(self, route: ModelRoute) -> Provider:
        match route.provider:
            case "openai" | "openai_compatible":
                import openai

                from app.llm.providers.openai_chat import OpenAIChatProvider
                from app.llm.providers.openai_responses import OpenAIResponsesProvider

                if route.provider == "openai":
                    api_key = self.keys.openai_api_key
                    base_url = route.base_url or self.keys.openai_base_url or None
                else:
                    api_key = self.environ.get(route.api_key_env, "") if route.api_key_env else ""
                    base_url = route.base_url
                client = openai.AsyncOpenAI(
                    api_key=api_key or "not-needed",
                    base_url=base_url,
                    max_retries=0,
                    timeout=self._timeout(openai.Timeout),
                )
                if route.provider == "openai" and route.api != "chat":
                    return OpenAIResponsesProvider(client)
                return OpenAIChatProvider(client, name=route.provider)
            case "anthropic":
                import anthropic

                from app.llm.providers.anthropic import AnthropicProvider

                client = anthropic.AsyncAnthropic(
                    api_key=self.keys.anthropic_api_key,
                    base_url=route.base_url or self.keys.anthropic_base_url or None,
                    max_retries=0,
                    timeout=self._timeout(anthropic.Timeout),
                )
                return AnthropicProvider(client)
            case "gemini" | "vertex":
                from google import genai
                from google.genai import types as genai_types

                from app.llm.providers.gemini import GeminiProvider

                base_url = route.base_url or (self.keys.gemini_base_url if route.provider == "gemini" else "")
                # google-genai applies this to every read, like the other SDKs' read timeout.
                # An explicit httpx transport keeps google-genai on httpx: with aiohttp installed (slack_sdk needs
                # it) the SDK would switch to aiohttp, whose errors our transport-error mapping does not know.
                options = genai_types.HttpOptions(
                    base_url=base_url or None,
                    timeout=int(self.policy.idle_timeout_s * 1000),
                    async_client_args={"transport": httpx.AsyncHTTPTransport()},
                )
                if route.provider == "gemini":
                    client = genai.Client(api_key=self.keys.gemini_api_key, http_options=options)
                else:
                    client = genai.Client(
                        vertexai=True,
                        project=self.keys.vertex_project,
                        location=self.keys.vertex_location,
                        http_options=options,
                        credentials=self.google_credentials,
                    )
                return GeminiProvider(client, name=route.provider)
            case "local":
                from app.llm.providers.local import LocalProvider

                return LocalProvider(self.keys)
            case "scripted":
                from app.llm.providers.scripted import ScriptedProvider

                return ScriptedProvider()
        raise ValueError(f"unknown provider {route.provider}")

    async def aclose(self) -> None:
        for adapter in self._adapters.values():
            await adapter.aclose()
        self._adapters.clear()
