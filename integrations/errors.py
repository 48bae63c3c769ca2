"""What connecting to, syncing with and hearing from Planning Center refuse."""

from api.errors import DomainError, InvalidInput, NotFound


class NotConnected(NotFound):
    message = "Planning Center is not connected."


class CredentialsRefused(InvalidInput):
    field = "secret"


class UnknownLists(InvalidInput):
    field = "lists"


class InvalidSignature(DomainError):
    code = "invalid_signature"
    message = "The webhook's signature does not match."
