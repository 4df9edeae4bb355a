"""A throw-away PostgreSQL cluster for fault tests: ``initdb`` + ``pg_ctl`` on a free loopback port.

Like tests/ldap_server.py for slapd: the cluster lives in a temporary folder the test owns, so the
test may stop it, kill it (SIGKILL to the postmaster), start it as a standby stuck in « the
database system is starting up », let it go on read-only (hot standby) and promote it, without
touching the machine's server on 5432. PostgreSQL refuses to run as root: as root, every command
runs as the ``postgres`` user, who owns the folder. Debian package: ``postgresql-15``.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg

from tests.ldap_server import free_port

BIN_DIRS = (Path("/usr/lib/postgresql/15/bin"), Path("/usr/lib/postgresql/16/bin"), Path("/usr/bin"))


def _bin_dir() -> Path:
    for directory in BIN_DIRS:
        if (directory / "initdb").exists() and (directory / "pg_ctl").exists():
            return directory
    raise RuntimeError("initdb / pg_ctl not found: install the Debian package postgresql-15")


@dataclass
class PostgresCluster:
    workdir: Path
    port: int
    user: str | None  # run the server as this user (we are root), or as ourselves
    process: subprocess.Popen[bytes] | None = None

    @property
    def data(self) -> Path:
        return self.workdir / "data"

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [str(_bin_dir() / args[0]), *args[1:]],
            capture_output=True,
            text=True,
            check=False,
            user=self.user,
            cwd=self.workdir,
            timeout=60,
        )
        if check and result.returncode != 0:
            raise RuntimeError(
                f"{' '.join(args)} failed ({result.returncode}):\n{result.stderr}\n{self.log()}"
            )
        return result

    def log(self) -> str:
        path = self.workdir / "postgres.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    def start(self, wait: bool = True) -> None:
        """The postmaster as our child (not daemonised by pg_ctl): we reap it when it dies, so
        no zombie keeps its PID, and its lock files, alive for the next start."""
        with (self.workdir / "postgres.log").open("ab") as log:
            self.process = subprocess.Popen(
                [str(_bin_dir() / "postgres"), "-D", str(self.data), "-p", str(self.port),
                 "-k", str(self.workdir), "-c", "listen_addresses=127.0.0.1"],
                stdout=log, stderr=subprocess.STDOUT, user=self.user, cwd=self.workdir,
            )  # fmt: skip
        if wait:
            self.wait_accepting()

    def stop(self, mode: str = "fast") -> None:
        """``fast``: backends are told « terminating connection due to administrator command »."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")
        if self.process is not None:
            self.process.wait(timeout=60)

    def begin_smart_stop(self) -> None:
        """``smart``: open sessions go on, new ones get « the database system is shutting down »."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "smart", "-W", "stop")

    def kill(self) -> None:
        """SIGKILL to the postmaster, as the OOM killer does; its backends exit on their own."""
        assert self.process is not None
        self.process.kill()
        self.process.wait(timeout=30)
        deadline = time.monotonic() + 30
        while self._cluster_processes() and time.monotonic() < deadline:
            time.sleep(0.1)

    def _cluster_processes(self) -> list[int]:
        """The server's processes still alive: every one works in the data folder."""
        alive = []
        for proc in Path("/proc").iterdir():
            try:
                if proc.name.isdigit() and (proc / "cwd").resolve() == self.data.resolve():
                    alive.append(int(proc.name))
            except OSError:
                continue
        return alive

    def start_as_standby_held_in_startup(self) -> Path:
        """Start as a standby whose ``restore_command`` waits for a file: until the returned
        path exists the server says « the database system is starting up »; then it goes on
        as a read-only hot standby (until :meth:`promote`)."""
        release = self.workdir / "release-recovery"
        release.unlink(missing_ok=True)
        with (self.data / "postgresql.auto.conf").open("a") as conf:
            conf.write(f"restore_command = 'while [ ! -e {release} ]; do sleep 0.1; done; false'\n")
        (self.data / "standby.signal").touch()
        self._chown(self.data / "standby.signal")
        self.start(wait=False)
        return release

    def promote(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-w", "promote")

    def sql(self, statement: str, params: tuple[object, ...] | None = None) -> list[tuple[object, ...]]:
        with psycopg.connect(
            host="127.0.0.1", port=self.port, user="postgres", dbname="postgres", autocommit=True
        ) as conn:
            cursor = conn.execute(statement, params)
            return cursor.fetchall() if cursor.description else []

    def connect_error(self) -> str | None:
        """The server's answer to a new connection: None when it accepts one."""
        try:
            self.sql("SELECT 1")
        except psycopg.OperationalError as exc:
            return str(exc)
        return None

    def wait_for(self, message: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while message not in (self.connect_error() or ""):
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"PostgreSQL never said {message!r}: {self.connect_error()}\n{self.log()}"
                )
            time.sleep(0.1)

    def wait_accepting(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while self.connect_error() is not None:
            if time.monotonic() > deadline:
                raise AssertionError(f"PostgreSQL not accepting: {self.connect_error()}\n{self.log()}")
            time.sleep(0.1)

    def _chown(self, path: Path) -> None:
        if self.user is not None:
            entry = pwd.getpwnam(self.user)
            os.chown(path, entry.pw_uid, entry.pw_gid)


@contextmanager
def postgres_cluster() -> Iterator[PostgresCluster]:
    """A fresh cluster (trust on loopback, user ``postgres``), started; removed on exit."""
    workdir = Path(tempfile.mkdtemp(prefix="educonnect-pg-"))  # not under pytest's 0700 root folder
    user = "postgres" if os.geteuid() == 0 else None
    cluster = PostgresCluster(workdir, free_port(), user)
    cluster._chown(workdir)
    try:
        cluster._run("initdb", "-D", str(cluster.data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                     "--no-sync")  # fmt: skip
        with (cluster.data / "postgresql.conf").open("a") as conf:
            conf.write("fsync = off\nfull_page_writes = off\n")  # a test cluster: speed over durability
        cluster.start()
        yield cluster
    finally:
        if cluster.process is not None and cluster.process.poll() is None:
            cluster.process.kill()
            cluster.process.wait(timeout=30)
        shutil.rmtree(workdir, ignore_errors=True)
