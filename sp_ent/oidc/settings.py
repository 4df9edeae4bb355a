"""The ENT's OpenID Connect client configuration, built once at start from ``settings.oidc``."""

from __future__ import annotations

from dataclasses import dataclass, field

from federation.errors import ConfigurationError
from federation.settings import Settings

CALLBACK_PATH = "/oidc/retour"
# Where ÉduConnect sends the parent after RP-initiated logout, and its two logout notifications.
LOGGED_OUT_PATH = "/deconnexion/terminee"
FRONTCHANNEL_LOGOUT_PATH = "/oidc/deconnexion-frontale"
BACKCHANNEL_LOGOUT_PATH = "/oidc/deconnexion-serveur"
DEMO_SECRET_FILE = "ent-oidc-client.secret"  # noqa: S105 - a file name


@dataclass(frozen=True)
class RelyingPartyConfig:
    issuer: str
    client_id: str
    client_secret: str = field(repr=False)
    redirect_uri: str
    post_logout_redirect_uri: str
    id_token_alg: str = "RS256"  # noqa: S105 - an algorithm name
    leeway_seconds: int = 180

    @classmethod
    def from_settings(cls, settings: Settings) -> RelyingPartyConfig:
        """The ``[oidc]`` section; without a secret there (ENT_OIDC_CLIENT_SECRET or the table), in
        the demo the file « demo --protocol oidc » wrote under var/, or the start stops."""
        section = settings.oidc
        if section is None:
            raise ConfigurationError("ent.oidc: section absente alors que protocol = oidc")
        secret = section.client_secret
        demo_file = settings.state_dir / DEMO_SECRET_FILE
        if not secret and settings.is_demo and demo_file.exists():
            secret = demo_file.read_text().strip()
        if not secret:
            raise ConfigurationError(
                "ent.oidc.client_secret (ou ENT_OIDC_CLIENT_SECRET) manquant ; "
                "en démonstration : « educonnect-bridge demo --protocol oidc »"
            )
        return cls(
            issuer=section.issuer,
            client_id=section.client_id,
            client_secret=secret,
            redirect_uri=settings.base_url + CALLBACK_PATH,
            post_logout_redirect_uri=settings.base_url + LOGGED_OUT_PATH,
            id_token_alg=section.id_token_alg,
            leeway_seconds=settings.clock_skew_seconds,
        )
