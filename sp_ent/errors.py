"""Failures of the ENT portal, each with a stable code."""

from federation.errors import FederationError


class EstablishmentNotReleased(FederationError):
    """The establishment asked for is not one of the children's establishments ÉduConnect released."""

    code = "etablissement_non_autorise"
    http_status = 403
