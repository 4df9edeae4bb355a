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


# --- self-service by e-mail (issue 18): shown on the form they come from, never as an error page.


class SelfServiceError(Exception):
    code = "libre_service"


class AddressInvalid(SelfServiceError):
    """What was typed is not an e-mail address we can write to."""

    code = "adresse_invalide"


class LinkInvalid(SelfServiceError):
    """A link's token is unknown, used, expired, of another purpose, or its account is gone."""

    code = "lien_invalide"


class MailUnavailable(SelfServiceError):
    """The mail relay is down or refused the message: nothing was sent, nothing changed."""

    code = "courriel_indisponible"


class AddressRefused(MailUnavailable):
    """The relay refused this recipient for good: its mailbox is gone (SMTP 5xx)."""

    code = "courriel_refuse"


class TooManyRequests(SelfServiceError):
    code = "trop_de_demandes"

    def __init__(self, retry_after_seconds: int) -> None:
        super().__init__(f"retry after {retry_after_seconds} s")
        self.retry_after_seconds = retry_after_seconds


class WrongCurrentPassword(SelfServiceError):
    code = "mot_de_passe_actuel_incorrect"


class ChildNotConfirmed(SelfServiceError):
    """A report names no confirmed child of this account (already reported, or not theirs)."""

    code = "eleve_non_rattache"
