"""What messaging services refuse, with the API's codes."""

from api.errors import Conflict, DomainError, InvalidInput, NotFound


class SendRefused(InvalidInput):
    """A broadcast that cannot be sent as asked (a recurring run skips it)."""

    field = "recipients"


class UnknownRecipients(SendRefused):
    """Member or branch ids that do not exist here (or are another church's)."""

    def __init__(self, missing: dict[str, list[str]]) -> None:
        super().__init__(
            fields={
                f"recipients.{name}": [f"Unknown id(s): {', '.join(ids)}."]
                for name, ids in missing.items()
            }
        )


class NoRecipients(SendRefused):
    message = (
        "No one to send to: every recipient is opted out, inactive, or none were named."
    )


class EmptyBody(SendRefused):
    field = "body"
    message = "The message is empty."


class NumberMissing(SendRefused):
    def __init__(self, count: int) -> None:
        super().__init__(
            f"{count} recipient(s) have no sending number: "
            "give the church (/api/tenant) or their branch one."
        )


class NotCancelable(Conflict):
    message = "Only a broadcast still waiting for its time can be canceled."


class RecipientOptedOut(Conflict):
    message = "This number opted out; it can receive nothing until it opts in."


class NoSendingNumber(Conflict):
    message = "Set a sending number for the church first."


class UnknownNumber(NotFound):
    message = "No church sends from this number."


class QuotaExceeded(DomainError):
    code = "quota_exceeded"
    message = "This send does not fit in the segments left this period."

    def __init__(self, needed: int, remaining: int) -> None:
        super().__init__(
            fields={"segments": [f"needs {needed}, {remaining} remaining"]}
        )


class PaymentRequired(DomainError):
    code = "payment_required"
    message = (
        "Sending is paused until the church's subscription is paid: see /api/billing."
    )


class NotStaff(InvalidInput):
    """An assignee who is not on this church's staff (nothing said of whom)."""

    field = "assignee"
    message = "Assign the conversation to a member of this church's staff."
