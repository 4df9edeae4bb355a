"""``educonnect-bridge``: the one command line of the project (DESIGN §7)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import tomllib
from pathlib import Path
from typing import Any

import click
from flask import Flask

from federation.errors import ConfigurationError
from federation.keys import generate_service_keys
from federation.settings import DEFAULT_RELEASE, PROJECT_ROOT, SERVICES, ServiceName, Settings, load_settings
from idp.oidc.cli import oidc
from idp.registry_cli import registry

DEMO_PORTS: dict[ServiceName, int] = {"ent": 8000, "idp": 8001, "aten": 8002}
SERVICE_CHOICE = click.Choice(list(SERVICES))


def _settings(service: ServiceName) -> Settings:
    try:
        return load_settings(service)
    except ConfigurationError as exc:
        raise click.ClickException(f"configuration invalide : {exc}") from exc


def create_service_app(service: ServiceName, settings: Settings | None = None) -> Flask:
    settings = settings or _settings(service)
    if service == "idp":
        from idp import create_app as create_idp

        return create_idp(settings)
    if service == "ent":
        from sp_ent import create_app as create_ent

        return create_ent(settings)
    from aten_adapter import create_app as create_aten

    return create_aten(settings)


def own_metadata(settings: Settings) -> dict[str, str]:
    """A service's metadata documents by file name, from its keys and endpoints alone.

    ÉduConnect has two: its IdP role toward the ENTs (idp.xml) and its SP role toward ATEN
    (idp-sp.xml, which ATEN registers).
    """
    from federation.saml import build_config, metadata_xml

    if settings.service == "ent":
        from sp_ent.saml_sp import sp_services

        return {"ent.xml": metadata_xml(build_config(settings, sp_services(settings)))}
    if settings.service == "aten":
        from aten_adapter.saml_idp import aten_services

        return {"aten.xml": metadata_xml(build_config(settings, aten_services(settings, "ATEN")))}
    from idp.saml_idp import idp_services
    from idp.saml_sp_aten import aten_sp_metadata

    return {
        "idp.xml": metadata_xml(build_config(settings, idp_services(settings))),
        "idp-sp.xml": aten_sp_metadata(settings),
    }


@click.group()
def main() -> None:
    """educonnect-bridge: ÉduConnect IdP, ATEN adapter and ENT portal."""


main.add_command(registry)
main.add_command(oidc)


@main.group()
def certs() -> None:
    """Keys and certificates."""


@certs.command("generate")
@click.option("--force", is_flag=True, help="Replace existing keys (breaks peers' metadata).")
def certs_generate(force: bool) -> None:
    """Generate the signing and encryption keys of the three services into certs/."""
    certs_dir = _settings("idp").certs_dir
    written = generate_service_keys(certs_dir, SERVICES, force=force)
    click.echo(f"{len(written)} paire(s) de clés écrite(s) dans {certs_dir}")


@main.group()
def metadata() -> None:
    """SAML metadata."""


@metadata.command("export")
@click.argument("services", nargs=-1, type=SERVICE_CHOICE)
@click.option(
    "--output-dir", type=click.Path(path_type=Path), default=None, help="Default: <state dir>/metadata"
)
def metadata_export(services: tuple[ServiceName, ...], output_dir: Path | None) -> None:
    """Write the metadata of SERVICES (all by default): ent.xml, idp.xml + idp-sp.xml, aten.xml."""
    for service in services or SERVICES:
        settings = _settings(service)
        target_dir = output_dir or settings.state_dir / "metadata"
        target_dir.mkdir(parents=True, exist_ok=True)
        for name, xml in own_metadata(settings).items():
            (target_dir / name).write_text(xml)
            click.echo(f"{target_dir / name}")


@main.group()
def db() -> None:
    """Database."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the IdP database (DATABASE_URL, SQLite by default in the demo)."""
    from federation.migrations import upgrade

    settings = _settings("idp")
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.database_url)
    click.echo("base de données à jour")


@main.group()
def sp() -> None:
    """Service providers (ENTs) registered with the IdP."""


@sp.command("add")
@click.argument("metadata_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--name", help="File name in the SP directory (default: the file's name).")
@click.option(
    "--attribute",
    "attributes",
    multiple=True,
    help=f"Attribute released to this SP (repeatable; default: {', '.join(DEFAULT_RELEASE)}).",
)
def sp_add(metadata_file: Path, name: str | None, attributes: tuple[str, ...]) -> None:
    """Register an ENT from its SAML metadata (restart the IdP afterwards)."""
    from federation.saml import entity_ids_of

    entity_ids = entity_ids_of(metadata_file)
    directory = _sp_directory()
    directory.mkdir(parents=True, exist_ok=True)
    stem = name or metadata_file.stem
    shutil.copyfile(metadata_file, directory / f"{stem}.xml")
    if attributes:
        quoted = ", ".join(f'"{a}"' for a in attributes)
        (directory / f"{stem}.toml").write_text(f"attributes = [{quoted}]\n")
    click.echo(f"{', '.join(entity_ids)} enregistré dans {directory}; redémarrez l'IdP")


def _sp_directory() -> Path:
    from federation.settings import config_dir

    config = config_dir(os.environ)
    with (config / "idp.toml").open("rb") as fh:
        value = tomllib.load(fh).get("service_providers_dir", "config/service_providers")
    path = Path(value)
    return path if path.is_absolute() else config.parent / path


@main.command()
@click.argument("service", type=SERVICE_CHOICE)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=None, help="Default: 8000 ent, 8001 idp, 8002 aten.")
@click.option("--workers", type=int, default=1, show_default=True)
@click.option("--threads", type=int, default=4, show_default=True)
def serve(service: ServiceName, host: str, port: int | None, workers: int, threads: int) -> None:
    """Run one service under gunicorn."""
    from federation.server import exec_with_malloc_tunables, run_gunicorn

    exec_with_malloc_tunables()
    app = create_service_app(service)
    run_gunicorn(app, host, port or DEMO_PORTS[service], workers, threads)


@main.command()
@click.option("--no-serve", is_flag=True, help="Prepare everything, start nothing.")
@click.option(
    "--protocol",
    type=click.Choice(["saml", "oidc"]),
    default="saml",
    show_default=True,
    help="How the demo ENT signs parents in with ÉduConnect.",
)
def demo(no_serve: bool, protocol: str) -> None:
    """Keys, metadata, database and demo data, then the three services on :8000-:8002."""
    os.environ["EDUCONNECT_MODE"] = "demo"
    os.environ["ENT_PROTOCOL"] = protocol
    ctx = click.get_current_context()
    ctx.invoke(certs_generate, force=False)
    ctx.invoke(metadata_export, services=(), output_dir=None)
    ctx.invoke(db_upgrade)
    from idp.demo_data import seed_demo

    for line in seed_demo(_settings("idp")):
        click.echo(line)
    if protocol == "oidc":
        from idp.oidc.cli import register_demo_client

        click.echo(register_demo_client(_settings("idp"), _settings("ent")))
    if no_serve:
        return
    _run_all(os.environ | {"EDUCONNECT_MODE": "demo"})


def _run_all(env: dict[str, Any]) -> None:
    """Start the three services as child processes; Ctrl-C stops them all."""
    exe = [sys.executable, "-m", "federation.cli"]
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


if __name__ == "__main__":
    main()
