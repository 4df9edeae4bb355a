"""ÉduConnect as an OpenID Connect provider toward the ENTs (DESIGN §4, §5), with Authlib.

- :mod:`idp.oidc.clients`: registered relying parties (TOML files, hashed secrets);
- :mod:`idp.oidc.keys`: ID token signing keys and the JWKS (with rollover);
- :mod:`idp.oidc.grant_store`: codes, tokens and nonces in the ephemeral store;
- :mod:`idp.oidc.provider`: Authlib's authorization server, grants and endpoints;
- :mod:`idp.oidc.claims`: the claims released per scope;
- :mod:`idp.oidc.views`: the HTTP endpoints and the link with the IdP's login pages.
"""

from __future__ import annotations

from flask import Flask

from federation.settings import Settings
from federation.web import get_store
from idp.domain.accounts import AccountRepository


def install_oidc_provider(
    app: Flask, settings: Settings, accounts: AccountRepository, logout_url: str
) -> None:
    """Build the provider once (clients and keys are read now: a bad file stops the start)."""
    from idp.children_views import released_children
    from idp.oidc.provider import OidcProvider
    from idp.oidc.views import bp

    app.extensions["idp_oidc"] = OidcProvider(
        settings, accounts, get_store(app), logout_url, released_children=released_children
    )
    app.register_blueprint(bp)
