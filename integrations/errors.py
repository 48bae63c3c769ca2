"""What connecting to, syncing with and hearing from Planning Center refuse."""

from api.errors import InvalidInput, NotFound


class NotConnected(NotFound):
    message = "Planning Center is not connected."


class CredentialsRefused(InvalidInput):
    field = "secret"


class UnknownLists(InvalidInput):
    field = "lists"
