"""ÉduConnect as an OpenID Connect provider toward the ENTs (DESIGN §4, §5), with Authlib.

- :mod:`idp.oidc.clients`: registered relying parties (TOML files, hashed secrets);
- :mod:`idp.oidc.keys`: ID token signing keys and the JWKS (with rollover);
- :mod:`idp.oidc.grant_store`: codes, tokens and nonces in the ephemeral store;
- :mod:`idp.oidc.provider`: Authlib's authorization server, grants and endpoints;
- :mod:`idp.oidc.claims`: the claims released per scope;
- :mod:`idp.oidc.views`: the HTTP endpoints and the link with the IdP's login pages.

``idp.create_app`` builds the provider once (clients and keys are read then: a bad file stops
the start) and registers the views.
"""
