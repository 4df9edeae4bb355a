"""The device cookie of the login brake (OWASP « Slow Down Online Guessing Attacks with Device
Cookies »): a browser where an account signed in successfully keeps a signed cookie naming a
device id for that account, and the brake (``federation.login_throttle``) gives that device its
own budget, which attempts from anywhere else cannot spend.

The cookie holds, for up to ``MAX_ACCOUNTS`` accounts (a family computer), a keyed digest of the
identifier (the identifier itself is not readable in it) and a random device id, signed by the
service's secret with a timestamp (itsdangerous). It is HttpOnly, Secure outside the demo,
SameSite=Strict and sent to the login page only. A new device id is issued at every successful
login: a stolen copy is worth its one small budget, and only until the owner signs in again.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field

from itsdangerous import BadData, URLSafeTimedSerializer
from werkzeug.wrappers import Response

from federation.settings import Settings

MAX_AGE_SECONDS = 365 * 24 * 3600
MAX_ACCOUNTS = 5
LOGIN_PATH = "/connexion"  # both login pages (ÉduConnect, ATEN) live there
_SALT = "appareil-connu"


def new_device_id() -> str:
    return secrets.token_urlsafe(16)


@dataclass(frozen=True)
class DeviceCookies:
    name: str
    secret: str = field(repr=False)
    secure: bool
    new_id: Callable[[], str] = new_device_id
    path: str = LOGIN_PATH

    @classmethod
    def for_service(cls, settings: Settings) -> DeviceCookies:
        secure = settings.cookie.secure
        return cls(name=f"{settings.service}_appareil", secret=settings.secret_key, secure=secure)

    def device_for(self, raw: str | None, identifier: str) -> str | None:
        """The device id this browser holds for ``identifier`` (normalised), if its cookie is ours,
        unexpired and names it; None for an unknown browser."""
        return self._devices(raw).get(self._digest(identifier))

    def remember(self, response: Response, raw: str | None, identifier: str) -> None:
        """After a successful login: a fresh device id for ``identifier``, the others kept."""
        devices = self._devices(raw)
        devices.pop(self._digest(identifier), None)
        devices[self._digest(identifier)] = self.new_id()
        kept = dict(list(devices.items())[-MAX_ACCOUNTS:])
        response.set_cookie(
            self.name,
            self._serializer().dumps(kept),
            max_age=MAX_AGE_SECONDS,
            path=self.path,
            secure=self.secure,
            httponly=True,
            samesite="Strict",
        )

    def _devices(self, raw: str | None) -> dict[str, str]:
        if not raw:
            return {}
        try:
            value = self._serializer().loads(raw, max_age=MAX_AGE_SECONDS)
        except BadData:  # forged, altered, expired or another service's: an unknown browser
            return {}
        if not isinstance(value, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()
        ):
            return {}
        return dict(value)

    def _serializer(self) -> URLSafeTimedSerializer:
        return URLSafeTimedSerializer(self.secret, salt=_SALT)

    def _digest(self, identifier: str) -> str:
        key = hashlib.sha256(f"{_SALT}:{self.secret}".encode()).digest()
        return hmac.new(key, identifier.encode(), hashlib.sha256).hexdigest()[:32]
