"""Language-model providers for drafting messages, chosen by `AI_BACKEND`.

`none` (the default) has no model: drafting answers `409 not_available`.
`openai` speaks the chat-completions protocol of OpenAI and of the many
servers compatible with it, at `AI_API_BASE` with `AI_API_KEY` and `AI_MODEL`.
A failure or a timeout of the provider is an `UpstreamError` (`502`).
"""

from __future__ import annotations

from typing import Any

import requests
from django.conf import settings

from api.errors import NotAvailable, UpstreamError

Chat = list[dict[str, str]]  # [{"role": "system"|"user"|"assistant", "content": ...}]


class AIBackend:
    def complete(self, messages: Chat) -> str:
        raise NotImplementedError


class NoBackend(AIBackend):
    def complete(self, messages: Chat) -> str:
        raise NotAvailable("Drafting with AI is not configured on this service.")


class OpenAIBackend(AIBackend):
    def __init__(self, base: str, key: str, model: str, timeout: float) -> None:
        self.url = base.rstrip("/") + "/chat/completions"
        self.key, self.model, self.timeout = key, model, timeout

    def complete(self, messages: Chat) -> str:
        try:
            answer = requests.post(
                self.url,
                json={"model": self.model, "messages": messages, "temperature": 0.7},
                headers={"Authorization": f"Bearer {self.key}"},
                timeout=self.timeout,
            )
            answer.raise_for_status()
            body: Any = answer.json()
            text = body["choices"][0]["message"]["content"]
        except requests.RequestException as exc:
            raise UpstreamError("The drafting service did not answer.") from exc
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise UpstreamError("The drafting service answered nonsense.") from exc
        if not isinstance(text, str) or not text.strip():
            raise UpstreamError("The drafting service answered nothing.")
        return text.strip()


def get_backend() -> AIBackend:
    if settings.AI_BACKEND == "openai":
        return OpenAIBackend(
            settings.AI_API_BASE,
            settings.AI_API_KEY,
            settings.AI_MODEL,
            settings.AI_TIMEOUT_SECONDS,
        )
    return NoBackend()
