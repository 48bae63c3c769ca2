"""Segment counting: the sms-domain.md 3.4 vectors, the GSM 03.38 tables,
boundary rules for escape and surrogate pairs, and property-based invariants
checked against an independent, carrier-style splitter."""

import dataclasses
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sms.segments import (
    ENCODING_GSM7,
    ENCODING_UCS2,
    GSM7_BASIC,
    GSM7_CHARACTERS,
    GSM7_EXTENSION,
    GSM7_SEGMENT_LIMIT,
    GSM7_SINGLE_LIMIT,
    UCS2_SEGMENT_LIMIT,
    UCS2_SINGLE_LIMIT,
    SegmentInfo,
    count_segments,
    is_gsm7,
    non_gsm_characters,
)

EMOJI = "\U0001f61c"  # 😜, outside the BMP: a surrogate pair in UTF-16

# GSM 03.38 default alphabet written out independently of the module, row by
# row as in 3GPP TS 23.038 (ESC at 0x1B is not a character).
STANDARD_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅå"
    "\u0394_\u03a6\u0393\u039b\u03a9\u03a0\u03a8\u03a3\u0398\u039eÆæßÉ"
    " !\"#¤%&'()*+,-./"
    "0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNO"
    "PQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmno"
    "pqrstuvwxyzäöñüà"
)
STANDARD_EXTENSION = "\f^{}\\[]~|€"


# ---------------------------------------------------------------------------
# An independent oracle: split the way a carrier does, on the encoded stream.
# ---------------------------------------------------------------------------

ESC = object()  # a sentinel septet standing for the 0x1B escape


def _oracle_segments(text: str) -> list[list]:
    """Split ``text`` into encoded segments, backing off a cut that would
    separate ESC from its char or a high surrogate from its low one."""
    if not text:
        return []
    if all(c in STANDARD_BASIC or c in STANDARD_EXTENSION for c in text):
        stream: list = []
        for c in text:
            stream.extend([ESC, c] if c in STANDARD_EXTENSION else [c])
        single, multi = 160, 153

        def splits_pair(chunk: list) -> bool:
            return chunk[-1] is ESC

    else:
        raw = text.encode("utf-16-le", "surrogatepass")
        stream = [
            int.from_bytes(raw[i : i + 2], "little") for i in range(0, len(raw), 2)
        ]
        single, multi = 70, 67

        def splits_pair(chunk: list) -> bool:
            return 0xD800 <= chunk[-1] <= 0xDBFF

    if len(stream) <= single:
        return [stream]
    chunks = []
    start = 0
    while start < len(stream):
        end = min(start + multi, len(stream))
        if end < len(stream) and splits_pair(stream[start:end]):
            end -= 1
        chunks.append(stream[start:end])
        start = end
    return chunks


def _pairs(text: str) -> int:
    """Escape pairs (GSM-7) or surrogate pairs (UCS-2) in ``text``."""
    if is_gsm7(text):
        return sum(c in GSM7_EXTENSION for c in text)
    return sum(ord(c) > 0xFFFF for c in text)


# ---------------------------------------------------------------------------
# The table in design/sms-domain.md section 3.4, every vector.
# ---------------------------------------------------------------------------

VECTORS = [
    ("A" * 160, ENCODING_GSM7, 160, 1),
    ("A" * 161, ENCODING_GSM7, 161, 2),
    ("A" * 306, ENCODING_GSM7, 306, 2),
    ("A" * 307, ENCODING_GSM7, 307, 3),
    ("A" * 459, ENCODING_GSM7, 459, 3),
    ("A" * 460, ENCODING_GSM7, 460, 4),
    ("A" * 158 + "€", ENCODING_GSM7, 160, 1),
    ("A" * 159 + "€", ENCODING_GSM7, 161, 2),
    ("A" * 152 + "{" + "A" * 152, ENCODING_GSM7, 306, 3),
    ("é" * 160, ENCODING_GSM7, 160, 1),
    ("¿Cómo estás?", ENCODING_UCS2, 12, 1),
    (EMOJI + "1" * 68, ENCODING_UCS2, 70, 1),
    (EMOJI + "1" * 69, ENCODING_UCS2, 71, 2),
    (EMOJI + "1" * 132, ENCODING_UCS2, 134, 2),
    (EMOJI + "1" * 133, ENCODING_UCS2, 135, 3),
    ("a" * 66 + EMOJI + "a" * 66, ENCODING_UCS2, 134, 3),
]


@pytest.mark.parametrize(("text", "encoding", "units", "segments"), VECTORS)
def test_design_vectors(text, encoding, units, segments):
    info = count_segments(text)
    assert (info.encoding, info.units, info.segments) == (encoding, units, segments)
    assert len(_oracle_segments(text)) == segments


def test_naive_ceiling_would_be_wrong_for_the_two_bold_vectors():
    for text in ("A" * 152 + "{" + "A" * 152, "a" * 66 + EMOJI + "a" * 66):
        info = count_segments(text)
        assert math.ceil(info.units / info.per_segment) == 2
        assert info.segments == 3


# ---------------------------------------------------------------------------
# The GSM 03.38 tables.
# ---------------------------------------------------------------------------


def test_basic_table_is_the_127_printable_characters_of_gsm_03_38():
    # 128 code points, minus 0x1B ESC (the escape to the extension table).
    assert len(STANDARD_BASIC) == 127
    assert len(GSM7_BASIC) == 127
    assert set(STANDARD_BASIC) == GSM7_BASIC
    assert "\n" in GSM7_BASIC
    assert "\r" in GSM7_BASIC
    assert "\x1b" not in GSM7_BASIC
    assert "\x1b" not in GSM7_EXTENSION


def test_basic_table_contents_by_range():
    assert set("ABCDEFGHIJKLMNOPQRSTUVWXYZ") <= GSM7_BASIC
    assert set("abcdefghijklmnopqrstuvwxyz") <= GSM7_BASIC
    assert set("0123456789") <= GSM7_BASIC
    assert set(" !\"#%&'()*+,-./:;<=>?@_$") <= GSM7_BASIC
    assert set("£¥¤§¡¿") <= GSM7_BASIC
    assert set("èéùìòÇØøÅåÆæßÉÄÖÑÜäöñüà") <= GSM7_BASIC
    # Greek capitals that do not look like Latin ones (the real Greek code
    # points, not the Ohm or increment signs).
    assert set("\u0394\u03a6\u0393\u039b\u03a9\u03a0\u03a8\u03a3\u0398\u039e") <= (
        GSM7_BASIC
    )
    assert "\u2126" not in GSM7_CHARACTERS  # OHM SIGN
    assert "\u2206" not in GSM7_CHARACTERS  # INCREMENT


def test_extension_table_is_exactly_the_ten_escape_characters():
    assert set(STANDARD_EXTENSION) == GSM7_EXTENSION
    assert len(GSM7_EXTENSION) == 10
    assert GSM7_BASIC.isdisjoint(GSM7_EXTENSION)
    assert GSM7_CHARACTERS == GSM7_BASIC | GSM7_EXTENSION


def test_full_basic_table_is_one_gsm7_message_of_127_septets():
    info = count_segments(STANDARD_BASIC)
    assert info == SegmentInfo(ENCODING_GSM7, 127, 1, GSM7_SINGLE_LIMIT)
    assert non_gsm_characters(STANDARD_BASIC) == []


@pytest.mark.parametrize("char", sorted(STANDARD_BASIC))
def test_each_basic_character_is_one_septet(char):
    assert count_segments(char) == SegmentInfo(ENCODING_GSM7, 1, 1, 160)
    assert count_segments(char * 160).segments == 1
    assert count_segments(char * 161).segments == 2


@pytest.mark.parametrize("char", sorted(STANDARD_EXTENSION))
def test_each_extension_character_is_two_septets(char):
    assert count_segments(char) == SegmentInfo(ENCODING_GSM7, 2, 1, 160)
    assert count_segments("A" + char + "A").units == 4
    assert count_segments(char * 80) == SegmentInfo(ENCODING_GSM7, 160, 1, 160)
    # 81 pairs = 162 septets; 76 pairs fill 152 of 153, the rest go next.
    assert count_segments(char * 81) == SegmentInfo(ENCODING_GSM7, 162, 2, 153)
    assert count_segments(char * 152).segments == 2
    assert count_segments(char * 153).segments == 3


def test_whole_extension_table_counts_twenty_septets():
    assert count_segments(STANDARD_EXTENSION).units == 20


@pytest.mark.parametrize("char", list("éèùìòàñ¿¡Ç"))
def test_accented_characters_in_the_table_stay_gsm7(char):
    assert count_segments(char).encoding == ENCODING_GSM7
    assert non_gsm_characters(char) == []
    assert is_gsm7(char)


@pytest.mark.parametrize(
    "char",
    [
        "á",
        "í",
        "ó",
        "ú",
        "ç",  # lowercase c-cedilla is NOT in the table (capital Ç is)
        "`",
        "\u2019",  # ’
        "\u2018",  # ‘
        "\u201c",  # “
        "\u201d",  # ”
        "\u2013",  # en dash
        "\u2014",  # em dash
        "\u2026",  # horizontal ellipsis
        "\u00a0",  # no-break space
        "\t",
        "\x1b",  # a raw ESC is not a character of the alphabet
        "\x00",
        "ê",
        "Á",
        "ã",
        "õ",
        "â",
        "\u263a",  # ☺ is in the BMP: one unit, but still not GSM
        EMOJI,
    ],
)
def test_characters_outside_the_tables_force_ucs2(char):
    info = count_segments("Hello " + char)
    assert info.encoding == ENCODING_UCS2
    assert non_gsm_characters("Hello " + char) == [char]
    assert not is_gsm7(char)


def test_one_culprit_turns_the_whole_message_ucs2():
    text = "A" * 150 + "\u2019"
    info = count_segments(text)
    assert info.encoding == ENCODING_UCS2
    assert info.units == 151
    assert info.segments == 3  # 151 units / 67 per segment
    # Without the smart quote it is one GSM-7 message.
    assert count_segments("A" * 150 + "'").segments == 1


def test_extension_characters_are_single_units_in_ucs2():
    info = count_segments("{}[]~|\\^€\f" + "\u2019")
    assert info == SegmentInfo(ENCODING_UCS2, 11, 1, UCS2_SINGLE_LIMIT)


def test_decomposed_accent_forces_ucs2_even_if_composed_form_is_gsm():
    assert count_segments("e\u0301").encoding == ENCODING_UCS2  # e + combining acute
    assert count_segments("\u00e9").encoding == ENCODING_GSM7  # precomposed é


# ---------------------------------------------------------------------------
# Empty text, result shape.
# ---------------------------------------------------------------------------


def test_empty_text_is_zero_units_and_zero_segments():
    assert count_segments("") == SegmentInfo(ENCODING_GSM7, 0, 0, GSM7_SINGLE_LIMIT)
    assert non_gsm_characters("") == []
    assert is_gsm7("")


def test_segment_info_is_frozen():
    info = count_segments("hi")
    with pytest.raises(dataclasses.FrozenInstanceError):
        info.segments = 5


def test_per_segment_is_the_single_limit_then_the_multipart_limit():
    assert count_segments("A").per_segment == GSM7_SINGLE_LIMIT == 160
    assert count_segments("A" * 161).per_segment == GSM7_SEGMENT_LIMIT == 153
    assert count_segments(EMOJI).per_segment == UCS2_SINGLE_LIMIT == 70
    assert count_segments(EMOJI * 36).per_segment == UCS2_SEGMENT_LIMIT == 67


def test_whitespace_and_newlines_count():
    assert count_segments("a\nb\r\nc").units == 6
    assert count_segments("   ").units == 3
    assert count_segments("a\fb") == SegmentInfo(ENCODING_GSM7, 4, 1, 160)


def test_twilio_maximum_body():
    assert count_segments("A" * 1600) == SegmentInfo(ENCODING_GSM7, 1600, 11, 153)
    assert count_segments("\u2019" * 1600) == SegmentInfo(ENCODING_UCS2, 1600, 24, 67)


# ---------------------------------------------------------------------------
# Single-message limits: the last unit fits exactly, one more goes multipart.
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "units", "segments"),
    [
        ("A" * 158 + "{", 160, 1),  # pair ends exactly at 160
        ("A" * 159 + "{", 161, 2),
        ("{" + "A" * 158, 160, 1),
        ("{" * 80, 160, 1),
        ("{" * 79 + "A", 159, 1),
        ("{" * 79 + "AA", 160, 1),
        ("{" * 79 + "AAA", 161, 2),
    ],
)
def test_gsm7_single_limit(text, units, segments):
    info = count_segments(text)
    assert (info.encoding, info.units, info.segments) == (
        ENCODING_GSM7,
        units,
        segments,
    )


@pytest.mark.parametrize(
    ("text", "units", "segments"),
    [
        ("a" * 68 + EMOJI, 70, 1),  # pair ends exactly at 70
        ("a" * 69 + EMOJI, 71, 2),
        (EMOJI * 35, 70, 1),
        (EMOJI * 36, 72, 2),
        ("\u2019" * 70, 70, 1),
        ("\u2019" * 71, 71, 2),
    ],
)
def test_ucs2_single_limit(text, units, segments):
    info = count_segments(text)
    assert (info.encoding, info.units, info.segments) == (
        ENCODING_UCS2,
        units,
        segments,
    )


# ---------------------------------------------------------------------------
# Boundary rule: pairs are never split, at every boundary position.
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("before", "segments"),
    [
        # "{" occupies septets before+1 and before+2 of segment 1.
        (150, 2),  # 151-152: fits
        (151, 2),  # 152-153: fits exactly
        (152, 3),  # 153-154: straddles, moves whole to segment 2
        (153, 2),  # 154-155: starts segment 2
        (154, 2),
    ],
)
def test_escape_pair_at_the_first_segment_boundary(before, segments):
    # Total is always 306 septets: two full segments if nothing is padded.
    text = "A" * before + "{" + "A" * (304 - before)
    info = count_segments(text)
    assert info.units == 306
    assert info.segments == segments
    assert len(_oracle_segments(text)) == segments


@pytest.mark.parametrize(
    ("before", "segments"),
    [
        (304, 3),  # septets 305-306: end of segment 2
        (305, 4),  # 306-307: straddles segments 2 and 3
        (306, 3),  # 307-308: starts segment 3
    ],
)
def test_escape_pair_at_the_second_segment_boundary(before, segments):
    text = "A" * before + "€" + "A" * (457 - before)  # 459 septets
    info = count_segments(text)
    assert info.units == 459
    assert info.segments == segments
    assert len(_oracle_segments(text)) == segments


def test_escape_pairs_at_both_boundaries_add_two_segments_of_padding():
    text = "A" * 152 + "[" + "A" * 151 + "]" + "A" * 151
    # 152 | "[" + 151 = 153 | "]" + 151 = 153: three full segments after moving.
    info = count_segments(text)
    assert info.units == 152 + 2 + 151 + 2 + 151
    assert info.segments == 3
    assert count_segments(text + "A").segments == 4


@pytest.mark.parametrize(
    ("before", "segments"),
    [
        # The emoji occupies units before+1 and before+2 of segment 1.
        (64, 2),  # 65-66
        (65, 2),  # 66-67: fits exactly
        (66, 3),  # 67-68: straddles, moves whole to segment 2
        (67, 2),  # 68-69: starts segment 2
        (68, 2),
    ],
)
def test_surrogate_pair_at_the_first_segment_boundary(before, segments):
    # Total is always 134 units: two full segments if nothing is padded.
    text = "a" * before + EMOJI + "a" * (132 - before)
    info = count_segments(text)
    assert info.encoding == ENCODING_UCS2
    assert info.units == 134
    assert info.segments == segments
    assert len(_oracle_segments(text)) == segments


@pytest.mark.parametrize(
    ("before", "segments"),
    [
        (132, 3),  # units 133-134: end of segment 2
        (133, 4),  # 134-135: straddles segments 2 and 3
        (134, 3),  # 135-136: starts segment 3
    ],
)
def test_surrogate_pair_at_the_second_segment_boundary(before, segments):
    text = "a" * before + EMOJI + "a" * (199 - before)  # 201 units = 3 x 67
    info = count_segments(text)
    assert info.units == 201
    assert info.segments == segments
    assert len(_oracle_segments(text)) == segments


def test_all_emoji_message_pads_one_unit_per_segment():
    # 67 is odd: each segment holds 33 emoji (66 units) and wastes one.
    assert count_segments(EMOJI * 66).segments == 2
    assert count_segments(EMOJI * 67).segments == 3
    assert count_segments(EMOJI * 99).segments == 3
    assert count_segments(EMOJI * 100).segments == 4


def test_all_extension_message_pads_one_septet_per_segment():
    # 153 is odd: each segment holds 76 escape pairs (152 septets).
    assert count_segments("~" * 152).segments == 2
    assert count_segments("~" * 153).segments == 3
    assert count_segments("~" * 228).segments == 3
    assert count_segments("~" * 229).segments == 4


@pytest.mark.parametrize(
    ("text", "units"),
    [
        ("\U0001d400", 2),  # MATHEMATICAL BOLD CAPITAL A, not an emoji
        ("\U0001f1fa\U0001f1f8", 4),  # flag: two regional indicators
        ("\U0001f468\u200d\U0001f469\u200d\U0001f467", 8),  # ZWJ family
        ("\u2764\ufe0f", 2),  # heart + variation selector, both BMP
        ("\ud83d", 1),  # lone surrogate (bad input): one unit, not a crash
    ],
)
def test_ucs2_counts_utf16_code_units(text, units):
    info = count_segments(text)
    assert info.encoding == ENCODING_UCS2
    assert info.units == units
    assert info.units == len(text.encode("utf-16-le", "surrogatepass")) // 2


# ---------------------------------------------------------------------------
# non_gsm_characters: the culprits.
# ---------------------------------------------------------------------------


def test_non_gsm_characters_distinct_in_first_appearance_order():
    text = "Hola ¿cómo estás? “Buenos días” — ¡Olé! cómo " + EMOJI + EMOJI
    assert non_gsm_characters(text) == [
        "ó",
        "á",
        "\u201c",
        "í",
        "\u201d",
        "\u2014",
        EMOJI,
    ]


def test_non_gsm_characters_ignores_extension_characters():
    assert non_gsm_characters("Cost: €5 {approx} [see] ~ | ^ \\") == []


def test_non_gsm_characters_returns_astral_characters_whole():
    assert non_gsm_characters(EMOJI) == [EMOJI]
    assert all(len(c) == 1 for c in non_gsm_characters(EMOJI + "\U0001d400"))


# ---------------------------------------------------------------------------
# Properties, against the oracle and the bounds of the packing.
# ---------------------------------------------------------------------------

_gsm_alphabet = st.sampled_from(sorted(STANDARD_BASIC + STANDARD_EXTENSION))
# Weighted towards pairs so that boundaries are hit often.
_mixed_alphabet = st.one_of(
    st.sampled_from("Aa1 .{€~"),
    st.sampled_from(["\u2019", "á", "ç", "\u2014", "\u263a"]),
    st.sampled_from([EMOJI, "\U0001d400", "\U0001f600", "\U0001f1fa"]),
)
texts = st.one_of(
    st.text(_gsm_alphabet, max_size=700),
    st.text(st.sampled_from("A{"), max_size=700),
    st.text(st.sampled_from(["a", EMOJI]), max_size=300),
    st.text(_mixed_alphabet, max_size=400),
    st.text(max_size=300),
)

PROPERTY_SETTINGS = settings(max_examples=200, deadline=None)


@PROPERTY_SETTINGS
@given(texts)
def test_property_matches_carrier_style_splitter(text):
    info = count_segments(text)
    chunks = _oracle_segments(text)
    assert info.segments == len(chunks)
    assert info.units == sum(len(chunk) for chunk in chunks)
    assert all(len(chunk) <= info.per_segment for chunk in chunks)


@PROPERTY_SETTINGS
@given(texts)
def test_property_encoding_and_units(text):
    info = count_segments(text)
    culprits = non_gsm_characters(text)
    assert (info.encoding == ENCODING_GSM7) == (culprits == []) == is_gsm7(text)
    assert len(culprits) == len(set(culprits))
    assert all(c in text and c not in GSM7_CHARACTERS for c in culprits)
    if info.encoding == ENCODING_GSM7:
        assert info.units == len(text) + sum(c in GSM7_EXTENSION for c in text)
    else:
        assert info.units == len(text.encode("utf-16-le", "surrogatepass")) // 2


@PROPERTY_SETTINGS
@given(texts)
def test_property_segment_bounds(text):
    info = count_segments(text)
    single = GSM7_SINGLE_LIMIT if info.encoding == ENCODING_GSM7 else UCS2_SINGLE_LIMIT
    multi = GSM7_SEGMENT_LIMIT if info.encoding == ENCODING_GSM7 else UCS2_SEGMENT_LIMIT
    s, p, units = info.segments, info.per_segment, info.units

    assert (s == 0) == (text == "") == (units == 0)
    if text:
        assert s >= 1
    assert (s == 1) == (0 < units <= single)
    if s <= 1:
        assert p == single
        return

    assert p == multi
    # Every unit fits somewhere.
    assert s * p >= units
    # Padding bound: each of the first s-1 segments wastes at most one unit
    # (only a 2-unit pair can fail to fit, and only when exactly 1 unit is
    # left), and the last segment holds at least one unit, so
    #   units >= (s-1)*(p-1) + 1   <=>   (s-1)*p < units + s - 1,
    # which is tighter than (s-1)*p < units + s.
    assert units >= (s - 1) * (p - 1) + 1
    assert (s - 1) * p < units + s - 1
    # Moving pairs whole never costs more segments than there are pairs, and
    # at most one wasted unit per boundary.
    naive = math.ceil(units / p)
    pairs = _pairs(text)
    assert naive <= s <= naive + pairs
    assert s <= math.ceil((units + min(pairs, s - 1)) / p)
    if pairs == 0:
        assert s == naive


@PROPERTY_SETTINGS
@given(texts, st.data())
def test_property_appending_never_reduces_segments(text, data):
    cut = data.draw(st.integers(min_value=0, max_value=len(text)))
    prefix = text[:cut]
    if is_gsm7(prefix) == is_gsm7(text):
        assert count_segments(prefix).segments <= count_segments(text).segments
        assert count_segments(prefix).units <= count_segments(text).units
