"""Phone numbers as E.164, parsed in the church's country from what people type."""

import re

import phonenumbers

# What people paste ("+1 (415) 555-0101", "011 44 20 7946 0958") fits; the
# E.164 result is at most 16 characters, the limit of the stored columns.
MAX_RAW_LENGTH = 40
E164_LENGTH = 16  # "+" and at most 15 digits
# International call prefixes typed instead of "+": the ITU's 00 and NANP's 011.
_IDD_PREFIXES = ("011", "00")
# phonenumbers' region for "none": only numbers written with their country code.
UNKNOWN_REGION = "ZZ"
_PUNCTUATION = re.compile(r"[\s().\-/]")


class InvalidPhone(ValueError):
    pass


def _valid(raw: str, region: str) -> phonenumbers.PhoneNumber | None:
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        return None
    return number if phonenumbers.is_valid_number(number) else None


def to_e164(raw: str, region: str) -> str:
    """Parse `raw` (any common format) and return it as E.164, or raise InvalidPhone.

    A number valid in `region` wins (0113 is Leeds, not a prefix); otherwise a
    leading 00 or 011 is read as the international prefix.
    """
    text = str(raw).strip()
    if len(text) > MAX_RAW_LENGTH:
        raise InvalidPhone(
            f"Enter a phone number of at most {MAX_RAW_LENGTH} characters."
        )
    region = region.upper() or "US"
    number = _valid(text, region)
    if number is None:
        compact = compact_phone(text)
        prefix = next((p for p in _IDD_PREFIXES if compact.startswith(p)), None)
        if prefix is not None:
            number = _valid("+" + compact[len(prefix) :], region)
    if number is None:
        raise InvalidPhone("Enter a valid phone number.")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def compact_phone(raw: str) -> str:
    """`raw` without the spaces, dots, dashes, slashes and brackets people type."""
    return _PUNCTUATION.sub("", raw)


def digits(raw: str) -> str:
    return "".join(ch for ch in str(raw) if ch.isdigit())
