"""What billing refuses, with the API's codes."""

from api.errors import DomainError, InvalidInput, NotAvailable, NotFound


class UnknownPlan(InvalidInput):
    field = "plan"
    message = "No such plan is offered."


class TrialNotChosen(InvalidInput):
    field = "plan"
    message = "The trial cannot be chosen; pick a paid plan."


class NumbersOverPlan(DomainError):
    """Another sending number than the plan includes: a bigger plan is the remedy."""

    code = "payment_required"

    def __init__(self, plan_name: str, allowed: int) -> None:
        super().__init__(
            f"The {plan_name} plan includes {allowed} sending number(s); "
            "choose a larger plan to add another.",
            extra={"max_sending_numbers": allowed},
        )


class PortalNotAvailable(NotAvailable):
    message = "Plans are changed here directly (POST /api/billing/subscribe)."


class StripeSignatureInvalid(DomainError):
    """Stripe's guidance is a 400 for a webhook that fails verification."""

    code = "invalid_signature"
    message = "The Stripe-Signature header does not verify this body."

    @property
    def status(self) -> int:
        return 400


class StripeWebhooksOff(NotFound):
    message = "Stripe is not this service's billing backend."


class StripeUnavailable(DomainError):
    code = "service_unavailable"
    message = "The payment service could not be reached; try again shortly."

    def __init__(self) -> None:
        super().__init__(retry_after=30)
