"""HTTP/1.1 to the services on 127.0.0.1: keep-alive connections, cookies passed by hand.

The services run with their production settings (``https://`` base URLs, ``Secure`` cookies)
but listen on plain HTTP on loopback; this client never resolves the public names and sends
every cookie it is given, so no TLS proxy is needed for the benchmark.
"""

from __future__ import annotations

import html
import http.client
import re
from dataclasses import dataclass

LOOPBACK = "127.0.0.1"
FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
# What a kept-alive connection raises when the server closed it meanwhile (gunicorn's keepalive).
_STALE_CONNECTION = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)


@dataclass(frozen=True)
class Reply:
    status: int
    location: str
    set_cookies: tuple[str, ...]
    body: bytes

    def cookie(self, name: str) -> str | None:
        """Value of the cookie ``name`` set by this reply, if any."""
        for header in self.set_cookies:
            key, _, rest = header.partition("=")
            if key.strip() == name:
                return rest.split(";", 1)[0]
        return None


class Connection:
    """One kept-alive connection to a service port; reopened once if the server closed it."""

    def __init__(self, port: int, timeout: float = 30.0) -> None:
        self.port, self.timeout = port, timeout
        self._conn: http.client.HTTPConnection | None = None

    def request(self, method: str, path: str, body: bytes | None = None, cookie: str | None = None) -> Reply:
        headers = {"Cookie": cookie} if cookie else {}
        if body is not None:
            headers["Content-Type"] = FORM_CONTENT_TYPE
        for attempt in (1, 2):
            reused = self._conn is not None
            conn = self._conn or self._open()
            try:
                conn.request(method, path, body=body, headers=headers)
                response = conn.getresponse()
                data = response.read()
            except _STALE_CONNECTION:
                self.close()
                if not reused or attempt == 2:
                    raise
                continue
            if response.will_close:
                self.close()
            return Reply(
                status=response.status,
                location=response.getheader("Location", "") or "",
                set_cookies=tuple(response.headers.get_all("Set-Cookie") or ()),
                body=data,
            )
        raise AssertionError("unreachable")

    def connect(self) -> None:
        """Open the connection now (before a timed run starts)."""
        self._open().connect()

    def _open(self) -> http.client.HTTPConnection:
        self._conn = http.client.HTTPConnection(LOOPBACK, self.port, timeout=self.timeout)
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def hidden_field(page: bytes, name: str) -> str:
    """Value of ``<input type="hidden" name=NAME value=...>`` in one of our own pages."""
    match = re.search(rb'name="' + re.escape(name.encode()) + rb'" value="([^"]*)"', page)
    if match is None:
        raise ValueError(f"no field {name!r} in page")
    return html.unescape(match.group(1).decode())


def local_target(url: str) -> str:
    """Path and query of an absolute ``https://host/path?query`` (the host maps to a local port)."""
    if url.startswith("/"):
        return url
    scheme, sep, rest = url.partition("://")
    if not sep or scheme not in ("http", "https"):
        raise ValueError(f"not an absolute HTTP URL: {url[:80]!r}")
    _, slash, path = rest.partition("/")
    return slash + path
