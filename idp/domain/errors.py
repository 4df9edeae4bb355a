"""Failures of the IdP domain, each with a stable code (pages are chosen by code)."""

from federation.errors import FederationError


class InvalidCredentials(FederationError):
    """Unknown identifier or wrong password: one failure, one message, never which one."""

    code = "identifiants_invalides"
    http_status = 200


class TooManyAttempts(FederationError):
    """Too many failed logins from this address for this account, or from this address."""

    code = "trop_de_tentatives"
    http_status = 429
