"""What billing refuses, with the API's codes."""

from api.errors import InvalidInput, NotAvailable


class UnknownPlan(InvalidInput):
    field = "plan"
    message = "No such plan is offered."


class TrialNotChosen(InvalidInput):
    field = "plan"
    message = "The trial cannot be chosen; pick a paid plan."


class PortalNotAvailable(NotAvailable):
    message = "Plans are changed here directly (POST /api/billing/subscribe)."
