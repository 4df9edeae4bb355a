"""Failures of the ATEN domain, each with a stable code (the login page and error pages use it)."""

from federation.errors import FederationError


class InvalidCredentials(FederationError):
    """Unknown identifiant or wrong password: one failure, one message, never which one."""

    code = "identifiants_invalides"
    http_status = 200


class TooManyAttempts(FederationError):
    """Too many failed logins for this identifiant from this address, or from this address."""

    code = "trop_de_tentatives"
    http_status = 429


class DirectoryUnavailable(FederationError):
    """The ATEN directory cannot be reached: fail closed, the parent sees « service indisponible »."""

    code = "service_indisponible"
    http_status = 503


class InvalidDirectoryEntry(FederationError):
    """A parent entry lacks what ATEN must release (names, persistent id): never half an identity."""

    code = "annuaire_incoherent"
    http_status = 500
