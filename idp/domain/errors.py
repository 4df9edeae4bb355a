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


class InvalidPassword(FederationError):
    """The chosen password breaks the published rule; ``check`` names every failed rule."""

    code = "mot_de_passe_invalide"
    http_status = 200

    def __init__(self, check: object) -> None:
        super().__init__("password rule")
        self.check = check


class IdentifierTaken(Exception):
    """Storage: the identifier was taken meanwhile (unique index); try the next number."""


class AlreadyLinked(Exception):
    """Storage: this upstream identity already has an account (created by a parallel request)."""

    def __init__(self, account_id: str) -> None:
        super().__init__(account_id)
        self.account_id = account_id


class UpstreamRefused(FederationError):
    """ATEN did not authenticate the parent (wrong status, cancelled, refused)."""

    code = "aten_refus"
    http_status = 400
