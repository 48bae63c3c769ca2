"""Placeholders: the allowed set, validation, literal braces, safe rendering."""

from types import MappingProxyType

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sms.segments import ENCODING_GSM7, ENCODING_UCS2, count_segments
from templates_app.placeholders import (
    PLACEHOLDERS,
    find_placeholders,
    invalid_placeholders,
    render,
)

VALUES = {
    "first_name": "Ann",
    "last_name": "Lee",
    "full_name": "Ann Lee",
    "branch_name": "North Campus",
    "church_name": "Grace Church",
}


def test_allowed_placeholders_exactly():
    assert PLACEHOLDERS == (
        "first_name",
        "last_name",
        "full_name",
        "branch_name",
        "church_name",
    )
    assert isinstance(PLACEHOLDERS, tuple)


@pytest.mark.parametrize("name", PLACEHOLDERS)
def test_each_allowed_placeholder_is_found_valid_and_rendered(name):
    body = f"Hi {{{name}}}!"
    assert find_placeholders(body) == [name]
    assert invalid_placeholders(body) == []
    assert render(body, VALUES) == f"Hi {VALUES[name]}!"


# ---------------------------------------------------------------------------
# find_placeholders
# ---------------------------------------------------------------------------


def test_find_in_order_of_first_appearance_and_distinct():
    body = "{church_name}: {first_name}, {last_name}. Bye {first_name} {church_name}"
    assert find_placeholders(body) == ["church_name", "first_name", "last_name"]


def test_find_all_five():
    body = "{full_name}{branch_name}{first_name}{church_name}{last_name}"
    assert find_placeholders(body) == [
        "full_name",
        "branch_name",
        "first_name",
        "church_name",
        "last_name",
    ]


def test_find_nothing():
    assert find_placeholders("") == []
    assert find_placeholders("No placeholders here.") == []
    assert find_placeholders("first_name") == []
    assert find_placeholders("{ first_name }") == []
    assert find_placeholders("{foo} {}") == []


def test_find_ignores_invalid_tokens_but_keeps_valid_ones():
    body = "{foo} {first_name} {bar} {last_name}"
    assert find_placeholders(body) == ["first_name", "last_name"]
    assert invalid_placeholders(body) == ["{foo}", "{bar}"]


# ---------------------------------------------------------------------------
# invalid_placeholders
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "token",
    [
        "{foo}",
        "{}",
        "{ }",
        "{ first_name }",
        "{first_name }",
        "{ first_name}",
        "{First_Name}",
        "{FIRST_NAME}",
        "{firstname}",
        "{first-name}",
        "{name}",
        "{first_name|upper}",
        "{first_name,last_name}",
        "{first_name\n}",
        "{\tfirst_name}",
        "{hello world}",
        "{0}",
        "{1}",
        "{first_name\u200b}",  # zero-width space inside
        "{fіrst_name}",  # Cyrillic і, a lookalike
    ],
)
def test_any_other_brace_token_is_invalid(token):
    body = f"Hello {token} and {{first_name}}"
    assert invalid_placeholders(body) == [token]
    assert find_placeholders(body) == ["first_name"]


@pytest.mark.parametrize(
    "token",
    [
        "{first_name.__class__}",
        "{first_name.__class__.__mro__}",
        "{first_name.__init__.__globals__}",
        "{first_name[0]}",
        "{first_name!r}",
        "{first_name!s}",
        "{first_name:>10}",
        "{0.__class__}",
        "{__import__('os').system('id')}",
        "{values}",
        "{self}",
        "{body}",
        "{%s}",
        "{{}}",
    ],
)
def test_format_string_injection_is_invalid(token):
    assert invalid_placeholders(token) != []
    assert find_placeholders(token) == []
    # Rendering never evaluates it: whatever is not an allowed placeholder is
    # left exactly as written, so nothing from Python can leak into the text.
    assert render(token, VALUES) == token
    assert render("Hi " + token, VALUES) == "Hi " + token


def test_injection_attempt_renders_literally():
    body = "Hi {first_name.__class__} {first_name!r} {first_name:>10}"
    assert render(body, VALUES) == body
    assert invalid_placeholders(body) == [
        "{first_name.__class__}",
        "{first_name!r}",
        "{first_name:>10}",
    ]
    assert find_placeholders(body) == []


def test_nested_format_spec_reports_the_inner_token_as_valid_and_outer_as_text():
    # "{first_name:{last_name}}": the innermost pair is a real placeholder;
    # the rest ("{first_name:" and "}") contains no complete token.
    body = "{first_name:{last_name}}"
    assert find_placeholders(body) == ["last_name"]
    assert invalid_placeholders(body) == []
    assert render(body, VALUES) == "{first_name:Lee}"


def test_invalid_distinct_in_first_appearance_order():
    body = "{b} {a} {b} {} {a} {}"
    assert invalid_placeholders(body) == ["{b}", "{a}", "{}"]


def test_invalid_token_may_span_lines():
    assert invalid_placeholders("Dear {\nfoo\n}") == ["{\nfoo\n}"]


def test_word_in_braces_is_invalid_even_in_prose():
    # Anything of the form {word} that is not allowed is rejected: the sender
    # probably meant a placeholder, and a typo must not go out verbatim.
    assert invalid_placeholders("Bring your {Bible} on Sunday") == ["{Bible}"]
    assert invalid_placeholders("Hi {frist_name}") == ["{frist_name}"]


# ---------------------------------------------------------------------------
# Lone braces are literal text.
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        "{",
        "}",
        "}{",
        "} {",
        "{{",
        "}}",
        "Smile :-{",
        "Smile :-}",
        "a } b { c",
        "}first_name{",
        "first_name}",
        "{first_name",
        "{{{",
    ],
)
def test_lone_braces_are_literal_and_allowed(body):
    assert invalid_placeholders(body) == []
    assert find_placeholders(body) == []
    assert render(body, VALUES) == body


def test_unmatched_braces_around_a_placeholder_stay_literal():
    assert render("{{first_name}", VALUES) == "{Ann"
    assert render("{first_name}}", VALUES) == "Ann}"
    assert render("{{first_name}}", VALUES) == "{Ann}"  # no escape syntax
    assert render("}{first_name}{", VALUES) == "}Ann{"
    for body in ("{{first_name}", "{first_name}}", "{{first_name}}"):
        assert invalid_placeholders(body) == []
        assert find_placeholders(body) == ["first_name"]


def test_lone_open_brace_does_not_swallow_a_following_placeholder():
    body = "Price {approx. {first_name}"
    assert find_placeholders(body) == ["first_name"]
    assert invalid_placeholders(body) == []
    assert render(body, VALUES) == "Price {approx. Ann"


def test_rendered_text_is_never_rescanned():
    # The output may even look like a placeholder; it is sent as it is.
    assert render("{{first_name}first_name}", {"first_name": ""}) == "{first_name}"
    assert render("{{first_name}}", VALUES) == "{Ann}"


def test_brace_pair_across_text_is_one_invalid_token():
    assert invalid_placeholders("a { b } c") == ["{ b }"]


# ---------------------------------------------------------------------------
# render
# ---------------------------------------------------------------------------


def test_render_all():
    body = (
        "Hi {first_name} {last_name} ({full_name}), "
        "{branch_name} of {church_name} says hello."
    )
    assert render(body, VALUES) == (
        "Hi Ann Lee (Ann Lee), North Campus of Grace Church says hello."
    )


def test_render_repeated_placeholders():
    assert render("{first_name}, {first_name}, {first_name}!", VALUES) == (
        "Ann, Ann, Ann!"
    )


def test_render_adjacent_placeholders():
    assert render("{first_name}{last_name}", VALUES) == "AnnLee"
    assert render("{first_name}{first_name}", VALUES) == "AnnAnn"
    assert render("{first_name}}{last_name}", VALUES) == "Ann}Lee"


def test_render_missing_value_is_empty_and_whitespace_is_kept():
    assert render("Hi {first_name} {last_name}!", {"first_name": "Ann"}) == "Hi Ann !"
    assert render("Hi  {first_name}  !", {}) == "Hi    !"
    assert render("{branch_name}", {}) == ""
    assert render("\n{first_name}\n", {}) == "\n\n"


def test_render_none_value_is_empty():
    assert render("Hi {first_name}.", {"first_name": None}) == "Hi ."


def test_render_empty_body():
    assert render("", VALUES) == ""


def test_render_keeps_values_verbatim_without_trimming():
    assert render("[{first_name}]", {"first_name": "  Ann  "}) == "[  Ann  ]"


def test_render_ignores_extra_and_disallowed_keys():
    values = {**VALUES, "foo": "X", "first_name.__class__": "BAD"}
    assert render("{foo} {first_name.__class__} {first_name}", values) == (
        "{foo} {first_name.__class__} Ann"
    )


def test_render_leaves_invalid_tokens_untouched():
    body = "{foo} {} { first_name } {first_name}"
    assert render(body, VALUES) == "{foo} {} { first_name } Ann"


@pytest.mark.parametrize(
    "value",
    [
        "{last_name}",
        "{first_name}",
        "{first_name.__class__}",
        "{0}",
        "{{}}",
        "%s %(first_name)s",
        "$first_name ${first_name}",
    ],
)
def test_render_never_rescans_values(value):
    values = {**VALUES, "first_name": value}
    assert render("Hi {first_name}!", values) == f"Hi {value}!"
    # One pass: a value that looks like a placeholder is not replaced again.
    assert render("{first_name}{last_name}", values) == value + "Lee"


@pytest.mark.parametrize("value", ["\\1", "\\g<0>", "\\n", "\\", "a\\b", "\\\\"])
def test_render_inserts_backslashes_literally(value):
    # re.sub would expand these in a replacement *string*; we use a function.
    assert render("<{first_name}>", {"first_name": value}) == f"<{value}>"


@pytest.mark.parametrize(
    "value",
    [
        "José",
        "Zoë",
        "Ñúñez",
        "Łukasz",
        "Siân",
        "Nguyễn",
        "李",
        "محمد",
        "Ολυμπία",
        "\U0001f600",
        "\U0001f468\u200d\U0001f469\u200d\U0001f467",
        "e\u0301",
    ],
)
def test_render_unicode_values(value):
    assert render("Hi {first_name}!", {"first_name": value}) == f"Hi {value}!"


def test_render_does_not_mutate_values():
    values = dict(VALUES)
    render("{first_name} {foo}", values)
    assert values == VALUES


def test_render_with_any_mapping():
    assert render("{first_name}", MappingProxyType({"first_name": "Ann"})) == "Ann"


# ---------------------------------------------------------------------------
# Segments are counted on the rendered text.
# ---------------------------------------------------------------------------


def test_segments_are_counted_after_rendering():
    body = "Hi {first_name}, see you Sunday!"
    # As written, each brace is a 2-septet extension character.
    as_written = count_segments(body)
    assert as_written.encoding == ENCODING_GSM7
    assert as_written.units == len(body) + 2

    ascii_name = count_segments(render(body, {"first_name": "Ann"}))
    assert ascii_name.encoding == ENCODING_GSM7
    assert ascii_name.units == len("Hi Ann, see you Sunday!")

    # "José" is GSM-7 (é is in the table); "Núñez" is not (ú forces UCS-2).
    assert count_segments(render(body, {"first_name": "José"})).encoding == (
        ENCODING_GSM7
    )
    rendered = render(body, {"first_name": "Núñez"})
    info = count_segments(rendered)
    assert info.encoding == ENCODING_UCS2
    assert info.units == len(rendered)


def test_rendering_can_push_a_message_into_another_segment():
    # As written: 150 + 1 + 9 letters + 2 braces x 2 septets = 164 septets.
    body = "A" * 150 + " {full_name}"
    assert count_segments(body).units == 164
    assert count_segments(body).segments == 2
    short = render(body, {"full_name": "Al"})  # 153 septets
    assert count_segments(short).segments == 1
    long = render(body, {"full_name": "Maximilian Alexander"})
    assert count_segments(long).segments == 2
    emoji = render(body, {"full_name": "Al \U0001f600"})  # UCS-2, 156 units
    assert count_segments(emoji).segments == 3


# ---------------------------------------------------------------------------
# Properties.
# ---------------------------------------------------------------------------

_pieces = st.one_of(
    st.sampled_from([f"{{{name}}}" for name in PLACEHOLDERS]),
    st.sampled_from(["{", "}", "{foo}", "{}", "{ first_name }", "{0}", " ", "\n"]),
    st.text(max_size=8),
)
bodies = st.lists(_pieces, max_size=20).map("".join)
value_maps = st.dictionaries(st.sampled_from(PLACEHOLDERS), st.text(max_size=10))


def _reference_render(body: str, values) -> str:
    """An independent scanner: a "{" starts a token only if the next brace
    after it is a "}"; otherwise it is literal."""
    out = []
    i = 0
    while i < len(body):
        if body[i] == "{":
            j = i + 1
            while j < len(body) and body[j] not in "{}":
                j += 1
            if j < len(body) and body[j] == "}":
                inner = body[i + 1 : j]
                if inner in PLACEHOLDERS:
                    out.append(values.get(inner, ""))
                else:
                    out.append(body[i : j + 1])
                i = j + 1
                continue
        out.append(body[i])
        i += 1
    return "".join(out)


@settings(max_examples=200, deadline=None)
@given(bodies, value_maps)
def test_property_render_matches_reference_scanner(body, values):
    assert render(body, values) == _reference_render(body, values)


@settings(max_examples=200, deadline=None)
@given(bodies, value_maps)
def test_property_found_and_invalid_tokens_are_well_formed(body, values):
    found = find_placeholders(body)
    invalid = invalid_placeholders(body)
    assert len(found) == len(set(found))
    assert len(invalid) == len(set(invalid))
    for name in found:
        assert name in PLACEHOLDERS
        assert f"{{{name}}}" in body
    for token in invalid:
        assert token in body
        assert token[0] == "{"
        assert token[-1] == "}"
        assert "{" not in token[1:-1]
        assert "}" not in token[1:-1]
        assert token[1:-1] not in PLACEHOLDERS
    if not found:
        assert render(body, values) == body


@settings(max_examples=200, deadline=None)
@given(bodies)
def test_property_no_braces_means_nothing_found(body):
    stripped = body.replace("{", "").replace("}", "")
    assert find_placeholders(stripped) == []
    assert invalid_placeholders(stripped) == []
    assert render(stripped, VALUES) == stripped
