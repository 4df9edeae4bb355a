"""``educonnect-bridge``: the one command line of the project (DESIGN §7).

Its own commands (keys, metadata, database, SP registration, serving, the demo) and the IdP's
command groups it mounts (``registry``, ``oidc``). It composes the three services, so it lives
above them: nothing below imports it.
"""

from __future__ import annotations

import os
import shutil
import tomllib
from pathlib import Path

import click

from educonnect_bridge.composition import create_service_app, own_metadata
from educonnect_bridge.demo import DEMO_PORTS, register_demo_client, run_all
from federation.errors import ConfigurationError
from federation.keys import (
    SAML_USES,
    announce_next_key,
    generate_service_keys,
    key_pair,
    metadata_signing_pair,
    retire_previous_key,
    switch_to_next_key,
)
from federation.settings import DEFAULT_RELEASE, SERVICES, ServiceName, Settings, load_settings
from idp.oidc.cli import certs_dir as configured_certs_dir
from idp.oidc.cli import oidc
from idp.registry_cli import registry

SERVICE_CHOICE = click.Choice(list(SERVICES))


def _settings(service: ServiceName) -> Settings:
    try:
        return load_settings(service)
    except ConfigurationError as exc:
        raise click.ClickException(f"configuration invalide : {exc}") from exc


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
        # The certificate the federation operator pins to check these documents' signature.
        certificate = target_dir / f"{service}-metadata-signing.crt"
        shutil.copyfile(metadata_signing_pair(settings.certs_dir, service).cert_file, certificate)
        click.echo(f"{certificate}")


@main.group()
def saml() -> None:
    """SAML: key rollover."""


@saml.group("keys")
def saml_keys() -> None:
    """SAML signing and encryption keys: announce the next ones, switch to them, retire the old ones."""


def _pending_uses(certs_dir: Path, service: str, use: str | None, generation: str) -> tuple[str, ...]:
    """``--use``, or the SAML uses that have a ``generation`` key (next, previous); the first use
    when none has one, so that its error names the step to take."""
    if use:
        return (use,)
    uses = tuple(u for u in SAML_USES if key_pair(certs_dir, service, u, generation).exists())
    return uses or SAML_USES[:1]


_SERVICE_OPTION = click.option(
    "--service", "service", type=SERVICE_CHOICE, required=True, help="Whose keys: idp, ent or aten."
)
_USE_OPTION = click.option(
    "--use", type=click.Choice(SAML_USES), default=None, help="Default: signing and encryption."
)


@saml_keys.command("next")
@_SERVICE_OPTION
@_USE_OPTION
@click.option("--force", is_flag=True, help="Replace next keys already announced.")
def saml_keys_next(service: ServiceName, use: str | None, force: bool) -> None:
    """Generate the next keys: published in the metadata beside the current ones, not used yet."""
    certs_dir = configured_certs_dir()
    try:
        uses = (use,) if use else SAML_USES
        written = [announce_next_key(certs_dir, service, u, force=force) for u in uses]
    except ConfigurationError as exc:
        raise click.ClickException(str(exc)) from exc
    for pair in written:
        click.echo(f"clé suivante annoncée : {pair.cert_file}")
    click.echo(
        f"exportez les métadonnées (« metadata export {service} ») et redémarrez {service} ; "
        "quand les partenaires ont rafraîchi leur copie, lancez « saml keys rotate »"
    )


@saml_keys.command("rotate")
@_SERVICE_OPTION
@_USE_OPTION
def saml_keys_rotate(service: ServiceName, use: str | None) -> None:
    """Sign with the next keys (and have peers encrypt to them); the old ones stay published."""
    certs_dir = configured_certs_dir()
    try:
        uses = _pending_uses(certs_dir, service, use, "next")
        switched = [switch_to_next_key(certs_dir, service, u) for u in uses]
    except ConfigurationError as exc:
        raise click.ClickException(str(exc)) from exc
    for pair in switched:
        click.echo(f"clé en service : {pair.cert_file}")
    click.echo(
        f"exportez les métadonnées et redémarrez {service} ; l'ancienne clé reste publiée "
        "jusqu'à « saml keys retire »"
    )


@saml_keys.command("retire")
@_SERVICE_OPTION
@_USE_OPTION
def saml_keys_retire(service: ServiceName, use: str | None) -> None:
    """Delete the previous keys: no longer published, no longer accepted or decrypting."""
    certs_dir = configured_certs_dir()
    try:
        uses = _pending_uses(certs_dir, service, use, "previous")
        retired = [retire_previous_key(certs_dir, service, u) for u in uses]
    except ConfigurationError as exc:
        raise click.ClickException(str(exc)) from exc
    for pair in retired:
        click.echo(f"ancienne clé retirée : {pair.cert_file}")
    click.echo(f"exportez les métadonnées et redémarrez {service}")


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


@db.command("backup")
@click.argument("output", type=click.Path(dir_okay=False, path_type=Path))
def db_backup(output: Path) -> None:
    """Write the IdP's PostgreSQL database to OUTPUT (pg_dump, custom format), services running."""
    from educonnect_bridge.backup import BackupError, backup

    try:
        size = backup(_settings("idp").database_url, output)
    except (BackupError, ConfigurationError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"sauvegarde écrite dans {output} ({size} octets)")


@db.command("restore")
@click.argument("dump", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--replace", is_flag=True, help="Drop what the target database holds first (default: it must be empty)."
)
def db_restore(dump: Path, replace: bool) -> None:
    """Load a « db backup » file into DATABASE_URL's database (one transaction), then migrate it."""
    from educonnect_bridge.backup import BackupError, restore
    from federation.migrations import upgrade

    database_url = _settings("idp").database_url
    try:
        restore(database_url, dump, replace=replace)
    except (BackupError, ConfigurationError) as exc:
        raise click.ClickException(str(exc)) from exc
    upgrade(database_url)  # a backup taken before the last release's migrations
    click.echo(
        f"base restaurée depuis {dump} et à jour ; les parents se reconnectent (sessions non sauvegardées)"
    )


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
    """Register an ENT from its SAML metadata (every IdP worker serves it within seconds)."""
    from federation.saml import entity_ids_of

    entity_ids = entity_ids_of(metadata_file)
    directory = _sp_directory()
    directory.mkdir(parents=True, exist_ok=True)
    stem = name or metadata_file.stem
    # The release first: a worker that sees the new metadata sees its release with it, never the
    # default for a moment. Each file appears whole (os.replace): the workers read the directory.
    if attributes:
        quoted = ", ".join(f'"{a}"' for a in attributes)
        _replace_file(directory / f"{stem}.toml", f"attributes = [{quoted}]\n".encode())
    _replace_file(directory / f"{stem}.xml", metadata_file.read_bytes())
    click.echo(
        f"{', '.join(entity_ids)} enregistré dans {directory} ; "
        "l'IdP le sert sans redémarrage (chaque processus relit le répertoire toutes les quelques secondes)"
    )


@sp.command("refresh")
def sp_refresh() -> None:
    """Fetch the signed metadata aggregate ([sp_aggregate] of idp.toml) now and check it."""
    from saml2.attribute_converter import ac_factory

    from federation import metadata_aggregate
    from federation.saml import ATTRIBUTE_MAP_DIR
    from federation.saml_backend import tested_backend
    from idp.services import utc_now
    from idp.sp_registry import registry_settings

    settings = _settings("idp")
    try:
        aggregate = registry_settings(settings).aggregate
    except ConfigurationError as exc:
        raise click.ClickException(f"configuration invalide : {exc}") from exc
    if aggregate is None:
        raise click.ClickException("aucun agrégat de métadonnées configuré ([sp_aggregate] dans idp.toml)")
    outcome = metadata_aggregate.refresh(
        aggregate, tested_backend(settings.crypto_backend), ac_factory(ATTRIBUTE_MAP_DIR), utc_now()
    )
    if not outcome.is_good:
        raise click.ClickException(outcome.message)
    click.echo(f"{outcome.message} ; l'IdP le sert sans redémarrage")


def _replace_file(target: Path, data: bytes) -> None:
    tmp = target.with_name(f".{target.name}.tmp")  # not *.xml / *.toml: the IdP ignores it
    tmp.write_bytes(data)
    os.replace(tmp, target)


def _sp_directory() -> Path:
    from federation.settings import config_dir

    config = config_dir(os.environ)
    with (config / "idp.toml").open("rb") as fh:
        value = tomllib.load(fh).get("service_providers_dir")
    if not value:
        # The IdP reads no SP folder without it: a file written anywhere would never be served.
        raise click.ClickException(
            f"{config / 'idp.toml'} ne nomme aucun dossier de fournisseurs de services "
            '(service_providers_dir = "config/service_providers") : l\'IdP ne lirait pas ce fichier'
        )
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
    from federation.metrics import MULTIPROC_DIR_ENV, multiprocess_dir, prepare_multiprocess_dir
    from federation.server import exec_with_malloc_tunables, run_gunicorn

    settings = _settings(service)
    # Each worker's metrics in files there, summed by /metrics: set before prometheus_client is
    # imported, hence in the environment of this command started again.
    exec_with_malloc_tunables({MULTIPROC_DIR_ENV: str(settings.state_dir / "metrics" / service)})
    metrics_dir = multiprocess_dir()
    if metrics_dir is not None:
        prepare_multiprocess_dir(metrics_dir)
    try:
        app = create_service_app(service, settings)
    except ConfigurationError as exc:  # e.g. an SP this crypto backend cannot encrypt to
        raise click.ClickException(f"{service} ne démarre pas : {exc}") from exc
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
        click.echo(register_demo_client(_settings("idp"), _settings("ent")))
    if no_serve:
        return
    run_all(os.environ | {"EDUCONNECT_MODE": "demo"})


if __name__ == "__main__":
    main()
