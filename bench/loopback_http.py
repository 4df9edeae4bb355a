"""HTTP to the services on 127.0.0.1, cookies passed by hand.

Two clients: :class:`Connection` (HTTP/1.1, kept alive) for the untimed preparation and the
flows, and :func:`request_once` (one HTTP/1.0 request per connection, as nginx talks to its
upstream) for the timed single requests, lean so that the load process takes little of the CPU
it shares with the servers in the 2-worker runs.

The services run with their production settings (``https://`` base URLs, ``Secure`` cookies)
but listen on plain HTTP on loopback; these clients never resolve the public names and send
every cookie they are given, so no TLS proxy is needed for the benchmark.
"""

from __future__ import annotations

import html
import http.client
import re
import socket
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


def request_once(
    port: int,
    method: str,
    path: str,
    body: bytes | None = None,
    cookie: str | None = None,
    timeout: float = 30.0,
) -> Reply:
    """One HTTP/1.0 request on a connection of its own, read until the server closes it."""
    head = [f"{method} {path} HTTP/1.0", f"Host: {LOOPBACK}:{port}"]
    if cookie:
        head.append(f"Cookie: {cookie}")
    if body is not None:
        head += [f"Content-Type: {FORM_CONTENT_TYPE}", f"Content-Length: {len(body)}"]
    message = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + (body or b"")
    chunks = []
    with socket.create_connection((LOOPBACK, port), timeout=timeout) as sock:
        sock.sendall(message)
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return parse_reply(b"".join(chunks))


def parse_reply(raw: bytes) -> Reply:
    """Status, Location, Set-Cookie and body of a whole HTTP/1.x response (no chunked coding:
    an HTTP/1.0 request is answered with a Content-Length or until the connection closes)."""
    head, sep, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if not sep or len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
        raise http.client.BadStatusLine(lines[0][:80])
    location, cookies = "", []
    for line in lines[1:]:
        name, _, value = line.partition(":")
        name = name.strip().lower()
        if name == "location":
            location = value.strip()
        elif name == "set-cookie":
            cookies.append(value.strip())
    return Reply(status=int(parts[1]), location=location, set_cookies=tuple(cookies), body=body)


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
