"""What ``educonnect-bridge demo`` adds to the commands it chains: the demo ENT registered as an
OpenID Connect client of the IdP, and the three services run side by side."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Mapping

import click

from federation.settings import PROJECT_ROOT, ServiceName, Settings
from idp.oidc.cli import clients_dir, write_secret
from idp.oidc.clients import OidcClient, hash_client_secret, new_client_secret, write_client

DEMO_PORTS: dict[ServiceName, int] = {"ent": 8000, "idp": 8001, "aten": 8002}


def register_demo_client(idp: Settings, ent: Settings) -> str:
    """The demo ENT as a confidential client (``demo --protocol oidc``), idempotent.

    The secret is generated once and kept under the ENT's state directory (read by
    :class:`sp_ent.oidc.settings.RelyingPartyConfig` in demo mode); the client file is rewritten each
    time so it always matches that secret. Both apps' sides of it meet here, above them.
    """
    # Imported here: every other command (``serve idp`` included) runs without the ENT loaded.
    from sp_ent.oidc.settings import (
        BACKCHANNEL_LOGOUT_PATH,
        CALLBACK_PATH,
        DEMO_SECRET_FILE,
        FRONTCHANNEL_LOGOUT_PATH,
        LOGGED_OUT_PATH,
    )

    client_id = ent.oidc.client_id if ent.oidc else "ent-demo"
    secret_path = ent.state_dir / DEMO_SECRET_FILE
    if secret_path.exists():
        secret = secret_path.read_text().strip()
    else:
        secret = new_client_secret()
        write_secret(secret_path, secret)
    path = write_client(
        idp.oidc_clients_dir or clients_dir(),
        OidcClient(
            client_id=client_id,
            client_name="ENT de démonstration",
            redirect_uris=(ent.base_url + CALLBACK_PATH,),
            post_logout_redirect_uris=(ent.base_url + LOGGED_OUT_PATH,),
            frontchannel_logout_uri=ent.base_url + FRONTCHANNEL_LOGOUT_PATH,
            backchannel_logout_uri=ent.base_url + BACKCHANNEL_LOGOUT_PATH,
            token_endpoint_auth_method="client_secret_basic",  # noqa: S106 - a method name
            client_secret_hash=hash_client_secret(secret),
            sector_identifier=ent.entity_id,  # same subject as the demo ENT's SAML NameID
        ),
    )
    return f"client OpenID Connect de démonstration : {client_id} ({path})"


def run_all(env: Mapping[str, str]) -> None:
    """Start the three services as child processes; Ctrl-C stops them all."""
    exe = [sys.executable, "-m", "educonnect_bridge"]
    procs = [
        subprocess.Popen([*exe, "serve", service, "--port", str(port)], env=env, cwd=PROJECT_ROOT)
        for service, port in DEMO_PORTS.items()
    ]
    click.echo("ENT  http://localhost:8000   ÉduConnect http://localhost:8001   ATEN http://localhost:8002")
    click.echo("Ctrl-C pour arrêter.")
    try:
        while all(p.poll() is None for p in procs):
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            p.wait(timeout=10)
    failed = [p.returncode for p in procs if p.returncode not in (0, -signal.SIGTERM)]
    if failed:
        raise click.ClickException("un service s'est arrêté en erreur")
