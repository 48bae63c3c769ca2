"""SMS segment counting (GSM-7 vs UCS-2), shared by templates and messaging.

Pure Python, no Django: the same function answers the template editor's
counter, the send preview and the per-recipient count recorded on a message,
so the three can never disagree.

Rules (docs spec/messaging.md "Segments", design/sms-domain.md 3.4):

* GSM-7 iff every character is in the GSM 03.38 basic table or its extension
  table; an extension character is sent as ESC + char, so it costs 2 septets.
* Otherwise the whole message is UCS-2 and is counted in UTF-16 code units;
  a character outside the Basic Multilingual Plane (most emoji) is a surrogate
  pair, 2 units.
* A single message holds 160 septets / 70 units. Longer messages carry a
  6-octet User Data Header, leaving 153 septets / 67 units per segment.
* An escape pair or a surrogate pair is never split across two segments:
  if it does not fit in the room left it moves whole to the next segment,
  which can add a segment that a naive ``ceil(units / 153)`` would miss.

Counting is per code point: a multi-code-point grapheme (ZWJ emoji sequence,
flag, base letter + combining mark) may be split between its code points,
which is what carriers do and what handsets reassemble.
"""

from __future__ import annotations

from dataclasses import dataclass

ENCODING_GSM7 = "GSM-7"
ENCODING_UCS2 = "UCS-2"

GSM7_SINGLE_LIMIT = 160
GSM7_SEGMENT_LIMIT = 153
UCS2_SINGLE_LIMIT = 70
UCS2_SEGMENT_LIMIT = 67

# GSM 03.38 / 3GPP TS 23.038 default alphabet, in table order (0x00..0x7F).
# Position 0x1B is ESC, the escape to the extension table, and is not a
# printable character, so it is left out: 128 positions - 1 = 127 characters,
# including LF (0x0A) and CR (0x0D). 0x09 is the capital "Ç" (some old
# tables print a lowercase "ç", which is wrong and not GSM).
_GSM7_BASIC_TABLE = (
    "@£$¥èéùìòÇ\nØø\rÅå"  # 0x00-0x0F
    "Δ_ΦΓΛΩΠΨΣΘΞÆæßÉ"  # 0x10-0x1F, ESC (0x1B) omitted
    " !\"#¤%&'()*+,-./"  # 0x20-0x2F
    "0123456789:;<=>?"  # 0x30-0x3F
    "¡ABCDEFGHIJKLMNO"  # 0x40-0x4F
    "PQRSTUVWXYZÄÖÑÜ§"  # 0x50-0x5F
    "¿abcdefghijklmno"  # 0x60-0x6F
    "pqrstuvwxyzäöñüà"  # 0x70-0x7F
)

# Extension table characters reachable as ESC + char: form feed (0x0A),
# ^ (0x14), { (0x28), } (0x29), \ (0x2F), [ (0x3C), ~ (0x3D), ] (0x3E),
# | (0x40) and € (0x65). CR2 (0x0D) and SS2 (0x1B) are control codes, not text.
_GSM7_EXTENSION_TABLE = "\f^{}\\[~]|€"

GSM7_BASIC: frozenset[str] = frozenset(_GSM7_BASIC_TABLE)
GSM7_EXTENSION: frozenset[str] = frozenset(_GSM7_EXTENSION_TABLE)
GSM7_CHARACTERS: frozenset[str] = GSM7_BASIC | GSM7_EXTENSION


@dataclass(frozen=True)
class SegmentInfo:
    """How a body travels as SMS.

    ``units`` is septets for GSM-7 and UTF-16 code units for UCS-2.
    ``per_segment`` is the capacity of each segment actually used: the
    single-message limit (160 / 70) when the body fits in one message (or is
    empty), the multipart limit (153 / 67) otherwise.
    """

    encoding: str  # ENCODING_GSM7 or ENCODING_UCS2
    units: int
    segments: int
    per_segment: int


def is_gsm7(text: str) -> bool:
    """True when every character of ``text`` can be sent in GSM-7."""
    return all(char in GSM7_CHARACTERS for char in text)


def non_gsm_characters(text: str) -> list[str]:
    """The distinct characters forcing UCS-2, in order of first appearance.

    Shown to the sender as the "culprit" so they can replace, say, a smart
    quote and get back to the cheaper GSM-7 encoding.
    """
    seen: dict[str, None] = {}  # dict keeps insertion order
    for char in text:
        if char not in GSM7_CHARACTERS:
            seen.setdefault(char)
    return list(seen)


def _unit_costs(text: str, encoding: str) -> list[int]:
    """Cost of each character in units; a 2 is an indivisible pair."""
    if encoding == ENCODING_GSM7:
        return [2 if char in GSM7_EXTENSION else 1 for char in text]
    # Python strings hold code points; above U+FFFF UTF-16 needs a surrogate
    # pair. A lone surrogate (only possible from bad input) is one unit.
    return [2 if ord(char) > 0xFFFF else 1 for char in text]


def _pack(costs: list[int], capacity: int) -> int:
    """Number of segments of ``capacity`` units, never splitting a pair."""
    segments = 1
    room = capacity
    for cost in costs:
        if cost > room:
            # The pair (or char) does not fit: the rest of this segment is
            # left empty and the pair starts the next one whole.
            segments += 1
            room = capacity
        room -= cost
    return segments


def count_segments(text: str) -> SegmentInfo:
    """Encoding, length in units and number of segments of ``text``.

    Count the text as it is sent, i.e. after placeholders are rendered for the
    recipient. An empty text is 0 units and 0 segments: nothing would be sent
    (the API rejects empty bodies before this matters), and 0 keeps
    ``recipients x segments`` billing honest.
    """
    encoding = ENCODING_GSM7 if is_gsm7(text) else ENCODING_UCS2
    if encoding == ENCODING_GSM7:
        single, multi = GSM7_SINGLE_LIMIT, GSM7_SEGMENT_LIMIT
    else:
        single, multi = UCS2_SINGLE_LIMIT, UCS2_SEGMENT_LIMIT

    costs = _unit_costs(text, encoding)
    units = sum(costs)
    if units == 0:
        return SegmentInfo(encoding=encoding, units=0, segments=0, per_segment=single)
    if units <= single:
        # A single message has no header, so pairs cannot straddle anything.
        return SegmentInfo(
            encoding=encoding, units=units, segments=1, per_segment=single
        )
    return SegmentInfo(
        encoding=encoding,
        units=units,
        segments=_pack(costs, multi),
        per_segment=multi,
    )
