"""Failures of the ATEN domain, each with a stable code (the login page and error pages use it)."""

from federation.errors import FederationError, InvalidCredentials, TooManyAttempts

__all__ = ["InvalidCredentials", "TooManyAttempts"]  # shared with ÉduConnect, kept importable here


class DirectoryUnavailable(FederationError):
    """The ATEN directory cannot be reached: fail closed, the parent sees « service indisponible »."""

    code = "service_indisponible"
    http_status = 503


class InvalidDirectoryEntry(FederationError):
    """A parent entry lacks what ATEN must release (names, persistent id): never half an identity."""

    code = "annuaire_incoherent"
    http_status = 500
