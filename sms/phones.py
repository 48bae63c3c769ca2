"""Phone numbers as E.164, parsed in the church's country."""

import phonenumbers


class InvalidPhone(ValueError):
    pass


def to_e164(raw: str, region: str) -> str:
    """Parse `raw` (any common format) and return it as E.164, or raise InvalidPhone."""
    try:
        number = phonenumbers.parse(str(raw), region.upper() or "US")
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhone("Enter a valid phone number.") from exc
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhone("Enter a valid phone number.")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def digits(raw: str) -> str:
    return "".join(ch for ch in str(raw) if ch.isdigit())
