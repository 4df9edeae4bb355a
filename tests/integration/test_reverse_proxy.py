"""Admission control for real: Debian's HAProxy with the shipped config/haproxy/haproxy.cfg in
front of the three services running as processes (tests/live_stack.py), behind it
(EDUCONNECT_TRUSTED_PROXIES=1).

Each replica takes one request at a time here (SERVER_MAXCONN=1): a login whose body the test
holds back keeps the IdP's slot busy, so the next requests wait in HAProxy's queue, whose
length and content the test reads from HAProxy's statistics page.
"""

from __future__ import annotations

import http.client
import socket
import ssl
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from bench.proxy import Proxy, check_config, proxy_environment, running_proxy, self_signed_pem
from federation.server import MAX_REQUEST_LINE_BYTES
from tests.live_stack import LiveStack, live_stack

OVERLOADED = "Le service est très demandé. Réessayez dans quelques instants."
BASE_URLS = {"ent": "https://ent.test", "idp": "https://idp.test", "aten": "https://aten.test"}
BASE_URLS_ENV = {f"{name.upper()}_BASE_URL": url for name, url in BASE_URLS.items()}
EXPENSIVE_BUDGET_MS = 200
DEFAULT_BUDGET_MS = 500
HELD_BODY = b"identifiant=x&mot_de_passe=y"


@dataclass(frozen=True)
class Answer:
    status: int
    headers: http.client.HTTPMessage
    text: str


def ask(
    port: int, method: str, path: str, host: str = "idp.test", headers: dict[str, str] | None = None
) -> Answer:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        body = b"identifiant=a&mot_de_passe=b" if method == "POST" else None
        sent = {"Host": host, **(headers or {})}
        if body is not None:
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        conn.request(method, path, body=body, headers=sent)
        response = conn.getresponse()
        return Answer(response.status, response.headers, response.read().decode("utf-8", "replace"))
    finally:
        conn.close()


def until(condition: Callable[[], bool], what: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"never happened: {what}")
        time.sleep(0.02)


class HeldLogin:
    """A POST /connexion whose headers are sent and whose body is held back: the proxy has
    passed it to the IdP, whose worker thread waits for the body; the replica's one slot is
    busy until :meth:`release`."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        head = (
            "POST /connexion HTTP/1.1\r\nHost: idp.test\r\nConnection: close\r\n"
            "Content-Type: application/x-www-form-urlencoded\r\n"
            f"Content-Length: {len(HELD_BODY)}\r\n\r\n"
        )
        self.sock.sendall(head.encode())

    def release(self) -> None:
        self.sock.sendall(HELD_BODY)
        while self.sock.recv(65536):
            pass
        self.sock.close()


@pytest.fixture(scope="module")
def services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveStack]:
    behind_proxy = {
        "EDUCONNECT_TRUSTED_PROXIES": "1",
        "EDUCONNECT_ADMISSION_EXPENSIVE_MS": str(EXPENSIVE_BUDGET_MS),
        "EDUCONNECT_ADMISSION_DEFAULT_MS": str(DEFAULT_BUDGET_MS),
    }
    with live_stack(tmp_path_factory.mktemp("stack"), extra_env=behind_proxy) as stack:
        yield stack


def port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


@pytest.fixture(scope="module")
def tls_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("tls")
    self_signed_pem(directory)
    return directory


@contextmanager
def start_proxy(
    services: LiveStack, tls_dir: Path, tmp_path: Path, queue_timeout: str = "20s", plain_http: bool = True
) -> Iterator[Proxy]:
    env = proxy_environment(
        {name: port_of(url) for name, url in services.urls.items()},
        BASE_URLS,
        tls_dir,
        server_maxconn=1,
        queue_timeout=queue_timeout,
        plain_http=plain_http,
    )
    with running_proxy(env, tmp_path / "haproxy.log", ready_backends=("idp", "ent", "aten")) as proxy:
        yield proxy


@pytest.fixture
def proxy(services: LiveStack, tls_dir: Path, tmp_path: Path) -> Iterator[Proxy]:
    with start_proxy(services, tls_dir, tmp_path) as started:
        yield started


def assert_refused_by_the_proxy(answer: Answer) -> None:
    assert answer.status == 503
    assert OVERLOADED in answer.text
    assert answer.headers["Retry-After"] == "5"
    assert "Référence : " in answer.text
    assert answer.headers["X-Request-Id"] is None  # the services set it; this page is HAProxy's
    csp = answer.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp and "script-src" not in csp
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert answer.headers["Cache-Control"] == "no-store"


def test_past_the_queue_limits_logins_are_refused_first_and_health_checks_never(proxy: Proxy):
    port = proxy.http_port
    held = HeldLogin(port)
    until(lambda: proxy.in_flight("idp") == 1, "the held login reaches the IdP")
    with ThreadPoolExecutor(16) as pool:
        waiting: list[Future[Answer]] = [pool.submit(ask, port, "GET", "/connexion") for _ in range(2)]
        until(lambda: proxy.queued("idp") == 2, "two pages queued")

        # Two requests wait: a password login (argon2id) is refused at once, a page is not.
        assert_refused_by_the_proxy(ask(port, "POST", "/connexion"))
        health = [pool.submit(ask, port, "GET", "/healthz")]
        until(lambda: proxy.queued("idp") == 3, "the health check queued, not refused")

        waiting += [pool.submit(ask, port, "GET", "/connexion") for _ in range(5)]
        until(lambda: proxy.queued("idp") == 8, "eight requests queued")
        # Eight wait: any other request is refused at once, health checks and static files still wait.
        assert_refused_by_the_proxy(ask(port, "GET", "/connexion"))
        health.append(pool.submit(ask, port, "GET", "/healthz"))
        until(lambda: proxy.queued("idp") == 9, "the second health check queued")
        assert not any(f.done() for f in waiting + health)

        # Past the IdP's budget for a page: once the slot is free, the IdP itself refuses them,
        # unserved, from the time the proxy stamped on them (X-Request-Start).
        time.sleep(DEFAULT_BUDGET_MS / 1000 + 0.2)
        held.release()
        for answer in [f.result() for f in health]:
            assert answer.status == 200
        for answer in [f.result() for f in waiting]:
            assert answer.status == 503
            assert OVERLOADED in answer.text
            assert answer.headers["Retry-After"] == "5"
            reference = answer.headers["X-Request-Id"]  # the IdP's page: the id the proxy gave
            assert reference and f"Référence : {reference}" in answer.text
            assert "Content-Security-Policy" in answer.headers


def test_a_request_still_queued_after_the_queue_timeout_gets_the_french_page(
    services: LiveStack, tls_dir: Path, tmp_path: Path
):
    with start_proxy(services, tls_dir, tmp_path, queue_timeout="1s") as proxy:
        held = HeldLogin(proxy.http_port)
        until(lambda: proxy.in_flight("idp") == 1, "the held login reaches the IdP")
        answer = ask(proxy.http_port, "GET", "/connexion")
        assert proxy.in_flight("idp") == 1  # refused while the slot was still busy: it never ran
        assert_refused_by_the_proxy(answer)
        held.release()


def test_the_proxy_stamps_x_request_start_itself(proxy: Proxy, services: LiveStack):
    ancient = {"X-Request-Start": "t=1000000000000000"}  # 2001: far past any budget
    # Sent straight to the IdP (which trusts its one proxy), the stamp is honoured and the login
    # is refused before any work: not even the form's CSRF check ran (that would be a 400).
    direct = ask(port_of(services.urls["idp"]), "POST", "/connexion", headers=ancient)
    assert direct.status == 503 and OVERLOADED in direct.text
    assert "Set-Cookie" not in direct.headers
    # Through the proxy the client's value is replaced by the proxy's own: served.
    assert ask(proxy.http_port, "GET", "/connexion", headers=ancient).status == 200
    through = ask(proxy.http_port, "POST", "/connexion", headers=ancient)
    assert through.status == 400 and "Le formulaire a expiré" in through.text


def test_a_redirect_url_at_the_services_cap_and_its_referer_pass_the_proxy(proxy: Proxy):
    """The services read request lines up to MAX_REQUEST_LINE_BYTES (a Redirect-binding URL at
    their 16 K-character cap, percent-encoded); HAProxy's default buffer refused them first."""
    long_query = "/connexion?RelayState=" + "A" * (MAX_REQUEST_LINE_BYTES - 200)
    answer = ask(proxy.http_port, "GET", long_query, headers={"Referer": "https://idp.test" + long_query})
    assert answer.status == 200 and 'name="mot_de_passe"' in answer.text
    beyond = ask(proxy.http_port, "GET", "/connexion?RelayState=" + "A" * (MAX_REQUEST_LINE_BYTES + 10))
    assert beyond.status == 414  # gunicorn's bound, still enforced behind the proxy


def test_health_checks_and_static_files_are_never_refused_by_the_service(services: LiveStack):
    ancient = {"X-Request-Start": "t=1000000000000000"}
    idp = port_of(services.urls["idp"])
    assert ask(idp, "GET", "/healthz", headers=ancient).status == 200
    assert ask(idp, "GET", "/static/commun/css/site.css", headers=ancient).status == 200
    assert ask(idp, "GET", "/connexion", headers=ancient).status == 503


def test_tls_is_terminated_by_the_proxy_and_plain_http_redirected(
    services: LiveStack, tls_dir: Path, tmp_path: Path
):
    with start_proxy(services, tls_dir, tmp_path, plain_http=False) as proxy:
        context = ssl.create_default_context(cafile=str(tls_dir / "localhost.pem"))
        conn = http.client.HTTPSConnection("localhost", proxy.https_port, context=context, timeout=10)
        try:
            conn.request("GET", "/connexion", headers={"Host": "idp.test"})
            response = conn.getresponse()
            assert response.status == 200
            assert 'name="mot_de_passe"' in response.read().decode()
        finally:
            conn.close()
        plain = ask(proxy.http_port, "GET", "/connexion?x=1")
        assert plain.status == 301
        assert plain.headers["Location"] == "https://idp.test/connexion?x=1"


def test_the_shipped_configuration_passes_haproxys_own_checker(tls_dir: Path):
    # docker-compose's environment: upstream names only docker's DNS resolves (servers start in
    # maintenance until they do), the certificates' directory mounted.
    env = {"PATH": "/usr/sbin:/usr/bin:/bin", "PROXY_TLS_CERTS": f"{tls_dir}/", **BASE_URLS_ENV}
    checked = check_config(env)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "Configuration file is valid" in checked.stdout
    missing = check_config({**env, "PROXY_TLS_CERTS": f"{tls_dir}/absent/"})
    assert missing.returncode != 0 and "absent" in missing.stdout + missing.stderr
