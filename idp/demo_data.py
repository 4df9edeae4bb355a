"""Demo data of the IdP: the ÉduConnect accounts of config/demo (idempotent)."""

from __future__ import annotations

import datetime as dt
import tomllib
from collections.abc import Iterator

from federation.database import make_engine, make_session_factory
from federation.settings import Settings, config_dir
from idp.domain.accounts import Account
from idp.domain.passwords import hash_password
from idp.storage.sql_accounts import SqlAccountRepository, new_account_id
from idp.storage.sql_self_service import SqlSelfServiceRepository


def seed_demo(settings: Settings) -> Iterator[str]:
    import os

    path = config_dir(os.environ) / "demo" / "educonnect_accounts.toml"
    with path.open("rb") as fh:
        entries = tomllib.load(fh)["accounts"]
    sessions = make_session_factory(make_engine(settings.database_url))
    repo = SqlAccountRepository(sessions)
    addresses = SqlSelfServiceRepository(sessions)
    for entry in entries:
        if repo.by_identifier(entry["identifier"]) is None:
            repo.add(
                Account(
                    id=new_account_id(),
                    identifier=entry["identifier"],
                    password_hash=hash_password(entry["password"]),
                    given_name=entry["given_name"],
                    family_name=entry["family_name"],
                )
            )
            yield f"compte de démonstration créé : {entry['identifier']}"
        account = repo.by_identifier(entry["identifier"])
        if account is not None and entry.get("email") and addresses.confirmed_address(account.id) is None:
            addresses.set_confirmed_address(account.id, entry["email"], dt.datetime.now(dt.UTC))
            yield f"adresse électronique confirmée : {entry['identifier']} {entry['email']}"
    registry_csv = path.parent / "registry.csv"
    if registry_csv.exists():  # the académie de Poitiers demo registry (idempotent upsert)
        from idp.registry_cli import import_file, open_registry, report_lines

        yield from report_lines(registry_csv, import_file(open_registry(settings.database_url), registry_csv))
