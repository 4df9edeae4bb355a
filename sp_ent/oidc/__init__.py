"""The ENT portal as an OpenID Connect relying party of ÉduConnect (``protocol = "oidc"``).

- ``settings``: the client's configuration, from the typed ``[oidc]`` section of ent.toml;
- ``core``: what the checks and URLs are, without I/O (token checks, URL building, claims);
- ``http_client``: the back channel to the provider (urllib; a Flask test client in tests);
- ``relying_party``: the provider's cached metadata and keys, and the code flow, over that client;
- ``views``: the callback ``/oidc/retour``.
"""
