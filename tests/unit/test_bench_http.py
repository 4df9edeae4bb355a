"""The benchmark's lean HTTP/1.0 client against a loopback socket server with canned replies."""

from __future__ import annotations

import http.client
import socket
import threading
from collections.abc import Iterator

import pytest

from bench.loopback_http import parse_reply, request_once


@pytest.fixture
def canned_server() -> Iterator[tuple[int, list[bytes], list[bytes]]]:
    """Answers each connection with the next canned reply and records what it received."""
    replies: list[bytes] = []
    received: list[bytes] = []
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with conn:
                data = b""
                while b"\r\n\r\n" not in data:
                    data += conn.recv(4096)
                head, _, body = data.partition(b"\r\n\r\n")
                length = next(
                    (
                        int(line.split(b":")[1])
                        for line in head.split(b"\r\n")
                        if line.lower().startswith(b"content-length:")
                    ),
                    0,
                )
                while len(body) < length:
                    body += conn.recv(4096)
                received.append(head + b"\r\n\r\n" + body)
                conn.sendall(replies.pop(0))

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield port, replies, received
    listener.close()


def test_get_sends_http10_with_cookie_and_reads_until_close(
    canned_server: tuple[int, list[bytes], list[bytes]],
) -> None:
    port, replies, received = canned_server
    replies.append(b'HTTP/1.0 200 OK\r\nContent-Type: text/html\r\n\r\n<form name="SAMLResponse">')
    reply = request_once(port, "GET", "/saml/sso?SAMLRequest=x", cookie="idp_session=abc")
    assert reply.status == 200
    assert reply.body == b'<form name="SAMLResponse">'
    request_line, *headers = received[0].split(b"\r\n\r\n")[0].split(b"\r\n")
    assert request_line == b"GET /saml/sso?SAMLRequest=x HTTP/1.0"
    assert b"Cookie: idp_session=abc" in headers


def test_post_sends_its_form_body(canned_server: tuple[int, list[bytes], list[bytes]]) -> None:
    port, replies, received = canned_server
    replies.append(
        b"HTTP/1.1 302 FOUND\r\nLocation: /accueil\r\nSet-Cookie: a=1; Path=/\r\nSet-Cookie: b=2\r\n\r\n"
    )
    reply = request_once(port, "POST", "/saml/acs", b"SAMLResponse=abc%3D")
    assert (reply.status, reply.location, reply.cookie("a"), reply.cookie("b")) == (302, "/accueil", "1", "2")
    assert received[0].endswith(b"Content-Length: 19\r\n\r\nSAMLResponse=abc%3D")
    assert b"Content-Type: application/x-www-form-urlencoded" in received[0]


@pytest.mark.parametrize(
    "raw", [b"", b"garbage\r\n\r\n", b"HTTP/1.1 abc OK\r\n\r\n", b"HTTP/1.1 200 OK\r\nno end of head"]
)
def test_a_broken_reply_is_an_error_not_a_success(raw: bytes) -> None:
    with pytest.raises(http.client.BadStatusLine):
        parse_reply(raw)


def test_open_loop_tells_refusals_by_the_proxy_from_those_of_the_service():
    from bench.open_loop import Stream, classify

    sso = Stream("sso", 1.0, 200, 'name="SAMLResponse"')
    page = b'HTTP/1.0 200 OK\r\nX-Request-Id: a\r\n\r\n<input name="SAMLResponse" value="x">'
    assert classify(sso, page) == (200, "served")
    assert classify(sso, b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 5\r\n\r\n...") == (
        503,
        "refused-proxy",
    )
    from_idp = b"HTTP/1.0 503 SERVICE UNAVAILABLE\r\nX-Request-Id: b\r\nRetry-After: 5\r\n\r\n..."
    assert classify(sso, from_idp) == (503, "refused-app")
    assert classify(sso, b"HTTP/1.0 500 INTERNAL SERVER ERROR\r\n\r\n") == (
        500,
        "error: HTTP 500, expected 200",
    )
    assert classify(sso, b"HTTP/1.0 200 OK\r\n\r\nautre page")[1].startswith("error: ")
    login = Stream("login", 1.0, 302, "/compte")
    assert classify(login, b"HTTP/1.0 302 FOUND\r\nLocation: /compte\r\n\r\n") == (302, "served")
    assert classify(login, b"HTTP/1.0 302 FOUND\r\nLocation: /connexion\r\n\r\n")[1].startswith("error: ")
