"""A throw-away OpenLDAP server for tests: ``slapd`` on 127.0.0.1, built like the container.

The configuration is a cn=config directory made with ``slapadd -n0`` (core, cosine,
inetorgperson and our ``config/ldap/schema/aten.ldif``; data database ``{2}mdb`` as in the
bitnami image), then ``config/ldap/acl/aten-acl.ldif`` applied with ``slapmodify -n0`` and
``config/demo/aten.ldif`` loaded with ``slapadd`` (which checks every entry against the schema).
slapd runs in the foreground (``-d 0``) as the current user, listening on loopback only; as root
it needs no ``-u``/``-g`` since every file is in the temporary directory. Debian packages:
``slapd`` and ``ldap-utils``.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ldap3 import Connection, Server
from ldap3.core.exceptions import LDAPException

from aten_adapter.domain.password_hashes import hash_salted

PROJECT_ROOT = Path(__file__).resolve().parent.parent
LDAP_CONFIG = PROJECT_ROOT / "config" / "ldap"
SCHEMA_LDIF = LDAP_CONFIG / "schema" / "aten.ldif"
ACL_LDIF = LDAP_CONFIG / "acl" / "aten-acl.ldif"
DEMO_LDIF = PROJECT_ROOT / "config" / "demo" / "aten.ldif"
BASE_DN = "dc=ac-poitiers,dc=fr"
SERVICE_DN = f"cn=aten-adapter,ou=services,{BASE_DN}"
SERVICE_PASSWORD = "Aten-Service-Demo-2024"  # listed at the top of config/demo/aten.ldif
SYSTEM_SCHEMA_DIR = Path("/etc/ldap/schema")
MODULE_DIRS = (Path("/usr/lib/ldap"), Path("/usr/lib/x86_64-linux-gnu/ldap"), Path("/usr/lib64/openldap"))
SBIN_DIRS = ("/usr/sbin", "/usr/local/sbin", "/usr/local/libexec", "/usr/libexec")


@dataclass
class SlapdServer:
    url: str
    base_dn: str
    root_dn: str
    root_password: str = field(repr=False)
    workdir: Path
    process: subprocess.Popen[bytes]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)

    def log(self) -> str:
        path = self.workdir / "slapd.log"
        return path.read_text(errors="replace") if path.exists() else ""


def find_tool(name: str) -> str:
    found = shutil.which(name) or shutil.which(name, path=os.pathsep.join(SBIN_DIRS))
    if not found:
        raise RuntimeError(f"{name} not found: install the Debian packages slapd and ldap-utils")
    return found


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start_slapd(
    workdir: Path,
    data_ldif: Path = DEMO_LDIF,
    schema_ldif: Path = SCHEMA_LDIF,
    acl_ldif: Path | None = ACL_LDIF,
    timeout_seconds: float = 15.0,
) -> SlapdServer:
    """Configure, load and start slapd in ``workdir``; returns once it answers a bind."""
    conf_dir, data_dir = workdir / "slapd.d", workdir / "data"
    conf_dir.mkdir(parents=True)
    data_dir.mkdir()
    root_dn, root_password = f"cn=admin,{BASE_DN}", secrets.token_urlsafe(24)
    config = workdir / "config.ldif"
    config.write_text(_config_ldif(workdir, data_dir, schema_ldif, root_dn, root_password))
    _run(find_tool("slapadd"), "-F", str(conf_dir), "-n", "0", "-l", str(config))
    if acl_ldif is not None:
        _run(find_tool("slapmodify"), "-F", str(conf_dir), "-n", "0", "-l", str(acl_ldif))
    _run(find_tool("slapadd"), "-F", str(conf_dir), "-b", BASE_DN, "-l", str(data_ldif))
    url = f"ldap://127.0.0.1:{free_port()}"  # ldap3 refuses a trailing slash, slapd wants one
    with (workdir / "slapd.log").open("wb") as log:
        process = subprocess.Popen(
            [find_tool("slapd"), "-d", "0", "-F", str(conf_dir), "-h", f"{url}/"],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    server = SlapdServer(url, BASE_DN, root_dn, root_password, workdir, process)
    try:
        _wait_until_ready(server, timeout_seconds)
    except BaseException:
        server.stop()
        raise
    return server


@contextlib.contextmanager
def running_slapd(workdir: Path, **options: Any) -> Iterator[SlapdServer]:
    """``with running_slapd(tmp) as server:`` for tests that want their own server."""
    server = start_slapd(workdir, **options)
    try:
        yield server
    finally:
        server.stop()


def _wait_until_ready(server: SlapdServer, timeout_seconds: float) -> None:
    deadline = time.monotonic() + timeout_seconds
    while True:
        if server.process.poll() is not None:
            raise RuntimeError(f"slapd exited ({server.process.returncode}):\n{server.log()}")
        try:
            connection = Connection(
                Server(server.url, connect_timeout=1),
                server.root_dn,
                server.root_password,
                receive_timeout=2,
            )
            if connection.bind():
                connection.unbind()
                return
        except LDAPException:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"slapd did not answer within {timeout_seconds}s:\n{server.log()}")
        time.sleep(0.1)


def _run(*command: str) -> None:
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({result.returncode}):\n{result.stderr}")


def _module_dir() -> Path:
    for directory in MODULE_DIRS:
        if (directory / "back_mdb.so").exists() or (directory / "back_mdb.la").exists():
            return directory
    raise RuntimeError("OpenLDAP modules (back_mdb) not found")


def _config_ldif(workdir: Path, data_dir: Path, schema_ldif: Path, root_dn: str, root_password: str) -> str:
    module_dir = _module_dir()
    # pw-sha2 lets slapd check {SSHA512} values, as the bitnami image does (it loads it too).
    modules = ["back_mdb"] + (["pw-sha2"] if (module_dir / "pw-sha2.so").exists() else [])
    schemas = [SYSTEM_SCHEMA_DIR / f"{name}.ldif" for name in ("core", "cosine", "inetorgperson")]
    schemas.append(schema_ldif)
    lines = [
        "dn: cn=config",
        "objectClass: olcGlobal",
        "cn: config",
        f"olcPidFile: {workdir / 'slapd.pid'}",
        f"olcArgsFile: {workdir / 'slapd.args'}",
        "",
        "dn: cn=module{0},cn=config",
        "objectClass: olcModuleList",
        "cn: module{0}",
        f"olcModulePath: {module_dir}",
        *[f"olcModuleLoad: {module}" for module in modules],
        "",
        "dn: cn=schema,cn=config",
        "objectClass: olcSchemaConfig",
        "cn: schema",
        "",
        *[f"include: file://{path}\n" for path in schemas],
        "dn: olcDatabase={-1}frontend,cn=config",
        "objectClass: olcDatabaseConfig",
        "objectClass: olcFrontendConfig",
        "olcDatabase: {-1}frontend",
        "",
        "dn: olcDatabase={0}config,cn=config",
        "objectClass: olcDatabaseConfig",
        "olcDatabase: {0}config",
        "olcAccess: {0}to * by * none",
        "",
        "dn: olcDatabase={1}monitor,cn=config",
        "objectClass: olcDatabaseConfig",
        "olcDatabase: {1}monitor",
        "olcAccess: {0}to * by * none",
        "",
        "dn: olcDatabase={2}mdb,cn=config",
        "objectClass: olcDatabaseConfig",
        "objectClass: olcMdbConfig",
        "olcDatabase: {2}mdb",
        f"olcDbDirectory: {data_dir}",
        f"olcSuffix: {BASE_DN}",
        f"olcRootDN: {root_dn}",
        f"olcRootPW: {hash_salted(root_password)}",
        "olcDbMaxSize: 16777216",
        "olcDbIndex: objectClass eq",
        "olcDbIndex: uid eq",
        "",
    ]
    return "\n".join(lines)
