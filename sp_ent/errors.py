"""Failures of the ENT portal, each with a stable code."""

from federation.errors import FederationError, ProtocolError


class EstablishmentNotReleased(FederationError):
    """The establishment asked for is not one of the children's establishments ÉduConnect released."""

    code = "etablissement_non_autorise"
    http_status = 403


class ProviderUnavailable(FederationError):
    """ÉduConnect cannot be reached from the ENT's server (OpenID Connect back channel)."""

    code = "service_indisponible"
    http_status = 503


class UnknownSigningKey(ProtocolError):
    """An ID token names a key (``kid``) the provider's JWKS we hold does not have: after one
    refresh of the JWKS (key rollover) it is refused like any other bad token."""
