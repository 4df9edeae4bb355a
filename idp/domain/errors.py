"""Failures of the IdP domain, each with a stable code (pages are chosen by code)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from federation.errors import FederationError, InvalidCredentials, TooManyAttempts

if TYPE_CHECKING:
    from idp.domain.password_policy import PasswordCheck

__all__ = ["InvalidCredentials", "TooManyAttempts"]  # shared with ATEN, kept importable here


class InvalidPassword(FederationError):
    """The chosen password breaks the published rule; ``check`` names every failed rule."""

    code = "mot_de_passe_invalide"
    http_status = 200

    def __init__(self, check: PasswordCheck) -> None:
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


class WrongBirthDate(FederationError):
    """« Ajout d'élèves »: the date does not match, or the child is not this parent's (one message)."""

    code = "date_naissance_incorrecte"
    http_status = 422


class ChildLinkBlocked(FederationError):
    """Too many wrong dates for this child, ever: only the school can unblock the link."""

    code = "rattachement_bloque"
    http_status = 422


class TooManyBirthDateAttempts(FederationError):
    """Too many wrong dates for this account in the last 24 hours, all children together."""

    code = "trop_de_dates_incorrectes"
    http_status = 429
