"""What ÉduConnect says about a parent (DESIGN §4), before per-SP filtering by the protocol layer."""

from __future__ import annotations

import datetime as dt

from idp.domain.accounts import Account


def connection_time(instant: dt.datetime) -> str:
    """FrEduCtDateConnexion: ``YYYY-MM-DD HH:MM:SS.mmm`` (UTC)."""
    instant = instant.astimezone(dt.UTC)
    return instant.strftime("%Y-%m-%d %H:%M:%S.") + f"{instant.microsecond // 1000:03d}"


def released_attributes(
    account: Account, authn_instant: dt.datetime, logout_url: str
) -> dict[str, list[str]]:
    return {
        "sn": [account.family_name],
        "givenName": [account.given_name],
        "FrEduCtId": [account.id],
        "FrEduCtDateConnexion": [connection_time(authn_instant)],
        "FrEduUrlRetour": [logout_url],
    }
