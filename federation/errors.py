"""Failures shared by the three services, each with a stable code.

Views never build error pages themselves: they raise one of these and the error handler of
``federation.web`` renders the French page that goes with the code.
"""


class FederationError(Exception):
    """Base of every typed failure; ``code`` selects the page and the log line."""

    code = "erreur"
    http_status = 400

    def __init__(self, detail: str = "") -> None:
        super().__init__(detail or self.code)
        self.detail = detail


class ConfigurationError(FederationError):
    """A setting is missing or invalid: start-up stops and names it."""

    code = "configuration"
    http_status = 500


class StoreUnavailable(FederationError):
    """The ephemeral store (Redis or embedded) cannot be reached: fail closed."""

    code = "service_indisponible"
    http_status = 503


class SessionExpired(FederationError):
    """The browser's session or pending request is gone (back button, cookie lost, timeout)."""

    code = "session_expiree"
    http_status = 400


class ProtocolError(FederationError):
    """A SAML or OIDC message was refused; ``detail`` goes to the log, never to the page."""

    code = "message_refuse"
    http_status = 400


class UnknownPartner(ProtocolError):
    """The message comes from an entity that is not in our metadata."""

    code = "partenaire_inconnu"


class ReplayedMessage(ProtocolError):
    """A message or assertion ID was already consumed."""

    code = "message_rejoue"


class RequestAlreadyUsed(ProtocolError):
    """An AuthnRequest presented by another browser session than the first, or already answered."""

    code = "demande_deja_utilisee"


class ClockSkew(ProtocolError):
    """A signed message dated outside our time window (NotBefore / NotOnOrAfter beyond the allowed
    skew, DESIGN §5): most often the partner's clock and ours disagree, and a retry a few minutes
    later succeeds. ``offset_seconds`` is the message's IssueInstant minus our time at reception
    (negative: the partner's clock is behind ours), logged with the request id."""

    code = "horloge_decalee"

    def __init__(self, detail: str, offset_seconds: float | None) -> None:
        super().__init__(detail)
        self.offset_seconds = offset_seconds


class AuthenticationRefused(ProtocolError):
    """The upstream IdP answered with a non-success status (refused, cancelled)."""

    code = "authentification_refusee"


class InvalidCredentials(FederationError):
    """Unknown identifier or wrong password: one failure, one message, never which one."""

    code = "identifiants_invalides"
    http_status = 200


class TooManyAttempts(FederationError):
    """The login brake refused an attempt without checking it (``federation.login_throttle``);
    ``retry_after_seconds``: when the budget that refused opens again."""

    code = "trop_de_tentatives"
    http_status = 429

    def __init__(self, detail: str = "", retry_after_seconds: int = 0) -> None:
        super().__init__(detail)
        self.retry_after_seconds = retry_after_seconds

    @property
    def retry_after_minutes(self) -> int:
        """Roughly how long the parent waits, as the page says it (at least one minute)."""
        return max(1, -(-self.retry_after_seconds // 60))
