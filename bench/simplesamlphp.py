"""SimpleSAMLphp 1.19 (Debian's ``simplesamlphp``) as the benchmark's peer IdP, issue 17 item 1.

The bench runs its own nginx, php-fpm and memcached, each with a configuration file of its own in
a temporary directory and a loopback port of its own, all three pinned with ``taskset`` to the
core our gunicorn worker uses (nothing under /etc is edited; the Debian packages' daemons are not
used). SimpleSAMLphp is configured as a hosted SAML 2.0 IdP (``exampleauth:UserPass``), sessions
in memcached (``store.type = memcache``), Debian's ``config.php`` for everything else, with the
bench's ENT as its one SP, registered from the ENT's own metadata (SimpleSAMLphp's
``SAMLParser``), plus what issue 17 asks for: signed Response and signed Assertion in RSA-SHA256
(SimpleSAMLphp signs with exclusive c14n), signed AuthnRequests required
(``validate.authnrequest``), a persistent pairwise NameID (``saml:PersistentNameID``, as
ÉduConnect's) and the same attribute names as ÉduConnect releases (DESIGN §4).

Server CPU is read from ``/proc`` as for gunicorn: every process of the three trees (nginx master
and worker, php-fpm master and its children, memcached).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from bench.harness import BenchError
from bench.loopback_http import Connection
from bench.servers import _cpu_seconds, free_port, taskset

SSP_ROOT = Path("/usr/share/simplesamlphp")
DEBIAN_CONFIG = Path("/etc/simplesamlphp/config.php")
CONVERTER = Path(__file__).with_name("simplesamlphp_sp.php")  # SP metadata → saml20-sp-remote.php
PHP_CLI, PHP_FPM = "/usr/bin/php", "/usr/sbin/php-fpm8.2"
NGINX, MEMCACHED = "/usr/sbin/nginx", "/usr/bin/memcached"
BASE_URL = "https://ssp.bench.test/simplesaml/"
ENTITY_ID = BASE_URL + "saml2/idp/metadata.php"
METADATA_PATH = "/simplesaml/saml2/idp/metadata.php"
SSO_PATH = "/simplesaml/saml2/idp/SSOService.php"
AUTH_SOURCE = "bench-userpass"
RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
PERSISTENT = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"
URI_NAME_FORMAT = "urn:oasis:names:tc:SAML:2.0:attrname-format:uri"
READY_TIMEOUT_SECONDS = 30.0
STOP_TIMEOUT_SECONDS = 10.0
# The user the packaged daemons run as (when the bench runs as root: php-fpm and nginx refuse to
# run their workers as root, memcached too).
WEB_USER, CACHE_USER = "www-data", "memcache"


class PeerError(BenchError):
    pass


@dataclass(frozen=True)
class PeerUser:
    """One ``exampleauth:UserPass`` account and the attributes SimpleSAMLphp releases for it."""

    username: str
    password: str
    attributes: dict[str, list[str]]


def missing_packages() -> list[str]:
    """What ``scripts/install-system-deps.sh bench`` installs and is not there."""
    needed = {
        "simplesamlphp": SSP_ROOT / "www" / "_include.php",
        "php-fpm": Path(PHP_FPM),
        "php8.2-memcache": Path("/etc/php/8.2/fpm/conf.d/20-memcache.ini"),
        "php8.2-xml": Path("/etc/php/8.2/fpm/conf.d/20-dom.ini"),
        "php8.2-mbstring": Path("/etc/php/8.2/fpm/conf.d/20-mbstring.ini"),
        "nginx": Path(NGINX),
        "memcached": Path(MEMCACHED),
    }
    return [name for name, path in needed.items() if not path.exists()]


def _php(value: object) -> str:
    """A PHP literal for a JSON-like value (strings, numbers, booleans, lists, string-keyed dicts)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_php(v) for v in value) + "]"
    if isinstance(value, dict):
        return "[" + ", ".join(f"{_php(k)} => {_php(v)}" for k, v in value.items()) + "]"
    raise TypeError(f"no PHP literal for {type(value).__name__}")


def _self_signed(common_name: str) -> tuple[bytes, bytes]:
    """An RSA-2048 key and its self-signed certificate (PEM), as ÉduConnect's signing key."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=2))
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return key_pem, cert.public_bytes(serialization.Encoding.PEM)


@dataclass
class PeerStack:
    """nginx + php-fpm + memcached serving SimpleSAMLphp; measured like a gunicorn server."""

    name: str
    root: Path
    port: int  # nginx
    cpus: str | None
    workers: int  # php-fpm children
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def _tree(self, pid: int) -> list[int]:
        pids = [pid]
        with contextlib.suppress(OSError):
            for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
                pids += self._tree(int(child))
        return pids

    def cpu_seconds_by_program(self) -> dict[str, float]:
        """CPU time of each program's processes (with their finished children)."""
        return {
            program: sum(_cpu_seconds(pid) for pid in self._tree(process.pid))
            for program, process in self.processes.items()
        }

    def cpu_seconds(self) -> float:
        return sum(self.cpu_seconds_by_program().values())

    def worker_cpu_seconds(self) -> dict[int, float]:
        return {}  # php-fpm's children share one pool: no per-worker split is reported

    def log_tail(self, lines: int = 15) -> str:
        tails = []
        for path in sorted((self.root / "log").glob("*")):
            with contextlib.suppress(OSError):
                text = path.read_text(errors="replace").splitlines()[-lines:]
                if text:
                    tails.append(f"--- {path.name}\n" + "\n".join(text))
        return "\n".join(tails)

    def metadata(self) -> str:
        conn = Connection(self.port, timeout=10)
        try:
            reply = conn.request("GET", METADATA_PATH)
        finally:
            conn.close()
        if reply.status != 200 or b"EntityDescriptor" not in reply.body:
            raise PeerError(f"SimpleSAMLphp metadata: HTTP {reply.status}\n{self.log_tail()}")
        return reply.body.decode()


def _write_simplesamlphp(root: Path, sp_metadata: Path, memcached_port: int, user: PeerUser) -> None:
    config, metadata, cert = root / "config", root / "metadata", root / "cert"
    for directory in (config, metadata, cert, root / "log", root / "tmp", root / "data"):
        directory.mkdir(parents=True, exist_ok=True)
    key_pem, cert_pem = _self_signed("ssp.bench.test")
    (cert / "idp.key").write_bytes(key_pem)
    (cert / "idp.crt").write_bytes(cert_pem)
    # Debian's config.php as shipped, then what this deployment needs.
    overrides = {
        "baseurlpath": BASE_URL,
        "certdir": f"{cert}/",
        "loggingdir": f"{root / 'log'}/",
        "datadir": f"{root / 'data'}/",
        "tempdir": str(root / "tmp"),
        "metadatadir": f"{metadata}/",
        "secretsalt": secrets.token_hex(32),
        "auth.adminpassword": secrets.token_hex(16),
        "technicalcontact_name": "Bench",
        "technicalcontact_email": "bench@bench.test",
        "timezone": "UTC",
        "logging.handler": "file",
        "showerrors": False,
        "enable.saml20-idp": True,
        "store.type": "memcache",
        "memcache_store.servers": [[{"hostname": "127.0.0.1", "port": memcached_port}]],
        "module.enable": {"exampleauth": True},
        "admin.checkforupdates": False,
    }
    (config / "config.php").write_text(
        "<?php\n// Debian's defaults, then the benchmark deployment's settings.\n"
        f"require {_php(str(DEBIAN_CONFIG))};\n"
        f"$config = array_merge($config, {_php(overrides)});\n"
    )
    authsource: dict[str | int, object] = {0: "exampleauth:UserPass"}
    authsource[f"{user.username}:{user.password}"] = user.attributes
    (config / "authsources.php").write_text(f"<?php\n$config = {_php({AUTH_SOURCE: authsource})};\n")
    hosted: dict[str, object] = {
        "host": "__DEFAULT__",
        "privatekey": "idp.key",
        "certificate": "idp.crt",
        "auth": AUTH_SOURCE,
        "signature.algorithm": RSA_SHA256,
        "saml20.sign.response": True,
        "saml20.sign.assertion": True,
        "validate.authnrequest": True,
        "NameIDFormat": PERSISTENT,
        "attributes.NameFormat": URI_NAME_FORMAT,
        # A pairwise persistent NameID, as ÉduConnect's (hash of salt, SP, IdP and the account id).
        "authproc": {10: {"class": "saml:PersistentNameID", "attribute": "FrEduCtId"}},
    }
    (metadata / "saml20-idp-hosted.php").write_text(
        f"<?php\n$metadata[{_php(ENTITY_ID)}] = {_php(hosted)};\n"
    )
    # The ENT's metadata as SimpleSAMLphp reads it, plus the options issue 17 fixes explicitly.
    sp_options = {
        "validate.authnrequest": True,
        "saml20.sign.response": True,
        "saml20.sign.assertion": True,
        "signature.algorithm": RSA_SHA256,
        "assertion.encryption": False,
        "NameIDFormat": PERSISTENT,
        "attributes.NameFormat": URI_NAME_FORMAT,
    }
    converted = subprocess.run(
        [PHP_CLI, str(CONVERTER), str(sp_metadata), json.dumps(sp_options)],
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "SIMPLESAMLPHP_CONFIG_DIR": str(config)},
        capture_output=True,
        text=True,
        check=False,
    )
    if converted.returncode != 0 or "$metadata[" not in converted.stdout:
        raise PeerError(f"SimpleSAMLphp could not read the ENT's metadata:\n{converted.stderr[-2000:]}")
    (metadata / "saml20-sp-remote.php").write_text(converted.stdout)


def _write_daemons(root: Path, nginx_port: int, fpm_port: int, fpm_children: int, as_root: bool) -> None:
    config = root / "config"
    fpm_user = f"user = {WEB_USER}\ngroup = {WEB_USER}\n" if as_root else ""
    (root / "php-fpm.conf").write_text(
        f"[global]\npid = {root / 'php-fpm.pid'}\nerror_log = {root / 'log' / 'php-fpm.log'}\n"
        "daemonize = no\n\n"
        f"[simplesamlphp]\n{fpm_user}listen = 127.0.0.1:{fpm_port}\n"
        # One PHP process per concurrent client of the load process: none waits for a free child.
        f"pm = static\npm.max_children = {fpm_children}\n"
        f"env[SIMPLESAMLPHP_CONFIG_DIR] = {config}\n"
        f"php_admin_value[error_log] = {root / 'log' / 'php-errors.log'}\n"
    )
    nginx_user = f"user {WEB_USER};\n" if as_root else ""
    temp = root / "nginx"
    # The location block of SimpleSAMLphp's own nginx example (docs/simplesamlphp-install.md).
    (root / "nginx.conf").write_text(
        f"{nginx_user}worker_processes 1;\ndaemon off;\npid {root / 'nginx.pid'};\n"
        f"error_log {root / 'log' / 'nginx-error.log'};\n"
        "events { worker_connections 1024; }\n"
        "http {\n"
        "  include /etc/nginx/mime.types;\n"
        f"  access_log {root / 'log' / 'nginx-access.log'};\n"
        f"  client_body_temp_path {temp}/body;\n  proxy_temp_path {temp}/proxy;\n"
        f"  fastcgi_temp_path {temp}/fastcgi;\n  uwsgi_temp_path {temp}/uwsgi;\n"
        f"  scgi_temp_path {temp}/scgi;\n"
        "  server {\n"
        f"    listen 127.0.0.1:{nginx_port};\n"
        "    server_name ssp.bench.test;\n"
        "    location ^~ /simplesaml {\n"
        f"      alias {SSP_ROOT / 'www'};\n"
        "      location ~ ^(?<prefix>/simplesaml)(?<phpfile>.+?\\.php)(?<pathinfo>/.*)?$ {\n"
        "        include /etc/nginx/fastcgi_params;\n"
        f"        fastcgi_pass 127.0.0.1:{fpm_port};\n"
        "        fastcgi_param SCRIPT_FILENAME $document_root$phpfile;\n"
        "        fastcgi_param PATH_INFO $pathinfo if_not_empty;\n"
        # TLS ends in front of it, as for our services (https:// base URLs, plain HTTP here).
        "        fastcgi_param HTTPS on;\n"
        "        fastcgi_param HTTP_HOST ssp.bench.test;\n"
        "      }\n"
        "    }\n"
        "  }\n"
        "}\n"
    )
    temp.mkdir(exist_ok=True)


def _chown_tree(root: Path, user: str) -> None:
    for path in [root, *root.rglob("*")]:
        shutil.chown(path, user, user)


def _wait_port(port: int, process: subprocess.Popen[bytes], what: str, stack: PeerStack) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise PeerError(f"{what} exited ({process.returncode}):\n{stack.log_tail()}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            return
        time.sleep(0.1)
    raise PeerError(f"{what} not listening after {READY_TIMEOUT_SECONDS:.0f} s:\n{stack.log_tail()}")


def _stop(process: subprocess.Popen[bytes], stop_signal: int) -> None:
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(stop_signal)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=STOP_TIMEOUT_SECONDS)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)  # leftovers of its own group only
    process.wait(timeout=STOP_TIMEOUT_SECONDS)


@contextmanager
def running_simplesamlphp(
    sp_metadata: Path, user: PeerUser, cpus: str | None, fpm_children: int
) -> Iterator[PeerStack]:
    """memcached, php-fpm and nginx started (in that order) and stopped on exit, also on failure."""
    missing = missing_packages()
    if missing:
        raise PeerError(
            f"Debian packages missing: {' '.join(missing)} "
            "(scripts/install-system-deps.sh bench installs them)"
        )
    as_root = os.geteuid() == 0
    with tempfile.TemporaryDirectory(prefix="educonnect-bench-ssp-") as tmp:
        root = Path(tmp)
        root.chmod(0o755)  # php-fpm's and nginx's workers run as www-data
        memcached_port, fpm_port, nginx_port = free_port(), free_port(), free_port()
        _write_simplesamlphp(root, sp_metadata, memcached_port, user)
        _write_daemons(root, nginx_port, fpm_port, fpm_children, as_root)
        if as_root:
            _chown_tree(root, WEB_USER)
        stack = PeerStack("simplesamlphp", root, nginx_port, cpus, fpm_children)
        commands = {
            "memcached": [
                MEMCACHED, "-l", "127.0.0.1", "-p", str(memcached_port), "-U", "0", "-m", "64",
                *(["-u", CACHE_USER] if as_root else []),
            ],
            "php-fpm": [PHP_FPM, "--nodaemonize", "--fpm-config", str(root / "php-fpm.conf")],
            "nginx": [NGINX, "-c", str(root / "nginx.conf"), "-p", str(root)],
        }  # fmt: skip
        ports = {"memcached": memcached_port, "php-fpm": fpm_port, "nginx": nginx_port}
        stop_signals = {"memcached": signal.SIGTERM, "php-fpm": signal.SIGQUIT, "nginx": signal.SIGQUIT}
        try:
            for program, command in commands.items():
                with (root / "log" / f"{program}.out").open("wb") as log:
                    stack.processes[program] = subprocess.Popen(
                        [*taskset(cpus), *command],
                        stdin=subprocess.DEVNULL,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )
                _wait_port(ports[program], stack.processes[program], program, stack)
            stack.metadata()  # the whole chain answers
            yield stack
        finally:
            for program in reversed(list(stack.processes)):
                _stop(stack.processes[program], stop_signals[program])
