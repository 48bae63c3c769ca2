"""A message drafted by a language model: checked here, never trusted, never sent.

The model is asked for one SMS in GSM-7 within `max_segments`, using only the
platform's placeholders. Its answer is then checked, not believed: the
placeholders are validated, the segments counted, and the characters that
force UCS-2 named. Over the limit, or with an unknown placeholder, it is asked
once more, saying what was wrong; a draft still naming an unknown placeholder
(or past the longest body a message may have) is the provider's failure. A
person sends it, or not, through the usual endpoints.
"""

from __future__ import annotations

from dataclasses import dataclass

from ai.backends import Chat, get_backend
from api.errors import UpstreamError
from sms.segments import count_segments, non_gsm_characters
from templates_app.models import MessageTemplate
from templates_app.placeholders import (
    PLACEHOLDERS,
    find_placeholders,
    invalid_placeholders,
)
from templates_app.serializers import MAX_BODY
from tenants.context import require_tenant

ALLOWED = ", ".join(f"{{{name}}}" for name in PLACEHOLDERS)


@dataclass(frozen=True)
class Draft:
    body: str
    segments: int
    encoding: str
    variables: list[str]
    ucs2_characters: list[str]  # what forces UCS-2, if anything


def _instructions(church: str, max_segments: int) -> str:
    characters = 160 if max_segments == 1 else 153 * max_segments  # GSM-7
    return (
        f"You write SMS messages that {church}, a church, sends to its members. "
        "Answer with the message text only: no quotes, no explanation. Keep it "
        f"within {max_segments} SMS segment(s) of GSM-7 ({characters} characters), "
        "warm and plain. Use only GSM-7 characters: no emoji, no "
        "curly quotes. To address the member, you may use these placeholders "
        f"exactly as written, and no others: {ALLOWED}."
    )


def _unquoted(text: str) -> str:
    text = text.strip()
    if len(text) > 1 and text[0] == text[-1] and text[0] in "\"'":
        return text[1:-1].strip()
    return text


def _problems(text: str, max_segments: int) -> str | None:
    """What to ask the model to fix, or None."""
    wrong = invalid_placeholders(text)
    info = count_segments(text)
    asks = []
    if wrong:
        asks.append(
            f"Do not use {', '.join(wrong)}; the only placeholders are {ALLOWED}."
        )
    if info.segments > max_segments or len(text) > MAX_BODY:
        asks.append(
            f"That is {info.segments} segments ({info.encoding}); rewrite it shorter, "
            f"to fit in {max_segments}."
        )
    return " ".join(asks) or None


def draft_message(
    *, prompt: str, template: MessageTemplate | None = None, max_segments: int = 1
) -> Draft:
    """Draft a message for the current church (409 without a model, 502 when the
    model fails or keeps using unknown placeholders)."""
    backend = get_backend()
    ask = (
        prompt
        if template is None
        else (f"{prompt}\n\nStart from this template of ours:\n{template.body}")
    )
    chat: Chat = [
        {
            "role": "system",
            "content": _instructions(require_tenant().name, max_segments),
        },
        {"role": "user", "content": ask},
    ]
    text = _unquoted(backend.complete(chat))
    if (problems := _problems(text, max_segments)) is not None:
        chat += [
            {"role": "assistant", "content": text},
            {"role": "user", "content": problems},
        ]
        text = _unquoted(backend.complete(chat))
    if wrong := invalid_placeholders(text):
        raise UpstreamError(f"The draft used unknown placeholders: {', '.join(wrong)}.")
    if len(text) > MAX_BODY:
        raise UpstreamError(f"The draft was longer than {MAX_BODY} characters.")
    info = count_segments(text)
    return Draft(
        body=text,
        segments=info.segments,
        encoding=info.encoding,
        variables=find_placeholders(text),
        ucs2_characters=non_gsm_characters(text),
    )
