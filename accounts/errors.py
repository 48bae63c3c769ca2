"""What identity and staff services refuse, with the API's codes."""

from api.errors import Conflict, DomainError, Forbidden, InvalidInput, NotFound


class InvalidToken(DomainError):
    code = "invalid_token"
    message = "The token is invalid or expired."


class TokenRevoked(DomainError):
    code = "token_revoked"
    message = "The token has been revoked."


class InvalidCredentials(DomainError):
    code = "invalid_credentials"
    message = "Wrong email or password."


class TenantRequired(DomainError):
    """The account belongs to several churches: the answer lists them."""

    code = "tenant_required"
    message = "Name the tenant to log in to."


class TenantMismatch(DomainError):
    code = "tenant_mismatch"
    message = "The tenant named differs from the token's."


class TenantSuspended(DomainError):
    code = "tenant_suspended"
    message = "This church's account is suspended."


class EmailTaken(DomainError):
    code = "email_taken"
    message = "An account with this email already exists."


class RegistrationFailed(DomainError):
    code = "provisioning_failed"
    message = "The church's database could not be created; retry."


class InvalidLink(DomainError):
    """A one-time link's token that is unknown, used, expired or revoked."""

    code = "invalid_link"
    message = "This link is not valid any more; ask for a new one."


class InvalidCode(InvalidInput):
    field = "code"
    message = "The code is not valid."


class WrongPassword(InvalidInput):
    """The current password, asked again: a 400, since 401 means "logged out"."""

    field = "password"
    message = "The password is wrong."


class MfaAlreadyEnabled(Conflict):
    message = "MFA is already enabled; disable it first."


class NotOnStaff(NotFound):
    pass


class OwnersOnly(Forbidden):
    message = "Only an owner can grant, change or remove an owner."


class LastOwner(Conflict):
    message = "A church keeps at least one owner."
