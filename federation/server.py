"""Running a Flask app under gunicorn from our own CLI (no separate config file to keep)."""

from __future__ import annotations

import os
import platform
import sys
from collections.abc import Mapping
from typing import Any

import gunicorn.http.message
from flask import Flask
from gunicorn.app.base import BaseApplication
from gunicorn.arbiter import Arbiter
from gunicorn.workers.base import Worker

from federation.metrics import worker_exited
from federation.saml import MAX_REDIRECT_MESSAGE_CHARS

# The longest request line we read: a Redirect-binding URL whose SAMLRequest is at the
# application's own cap (MAX_REDIRECT_MESSAGE_CHARS, as decoded), each character percent-encoded
# at worst (3 bytes: base64's "+", "/", "="), plus RelayState, SigAlg, Signature, the method and
# path: about 56 KiB. gunicorn's default (4094 bytes) answered 414 to a genuine signed request with
# Scoping before the application could check it, or refuse it with its own French page.
MAX_REQUEST_LINE_BYTES = 3 * MAX_REDIRECT_MESSAGE_CHARS + 8192
# Referrer-Policy same-origin: a page reached by such a URL (an error page and its « Recommencer »)
# sends it back whole in Referer.
MAX_HEADER_FIELD_BYTES = MAX_REQUEST_LINE_BYTES + 64


class _Gunicorn(BaseApplication):
    def __init__(self, app: Flask, options: dict[str, Any]) -> None:
        self.application, self.options = app, options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        return self.application


# glibc's malloc for a worker whose largest allocation is argon2id's 19 MiB (DESIGN §6), read by
# glibc at process start only (GLIBC_TUNABLES, glibc.malloc.* in tunables(7)):
GLIBC_MALLOC_TUNABLES = ":".join(
    (
        # One arena for all threads: with one per thread, each kept the 19 MiB of the last
        # argon2id computation it ran (measured: 196 MB workers).
        "glibc.malloc.arena_max=1",
        # argon2id's block in a mapping of its own, given back when the computation ends. In the
        # heap, small allocations of other requests settle in the freed block, the next one is
        # placed elsewhere, and a worker ends up holding two (measured: 156 MB, 121 MB with this).
        "glibc.malloc.mmap_threshold=4194304",
        # ... mapped with transparent huge pages (madvise): ten page faults per computation
        # instead of 4 864 (measured: +5.4 ms per argon2id without, +1 ms with).
        "glibc.malloc.hugetlb=1",
    )
)


def exec_with_malloc_tunables(defaults: Mapping[str, str] | None = None) -> None:
    """Start this same command again (same pid) with :data:`GLIBC_MALLOC_TUNABLES`, unless the
    environment already sets malloc tunables (an operator's choice wins) or libc is not glibc;
    and with the variables of ``defaults`` the environment lacks (read at import by libraries,
    e.g. ``PROMETHEUS_MULTIPROC_DIR``). Returns when there is nothing to add."""
    changes = {k: v for k, v in (defaults or {}).items() if not os.environ.get(k)}
    current = os.environ.get("GLIBC_TUNABLES", "")
    if "glibc.malloc." not in current and platform.libc_ver()[0] == "glibc":
        changes["GLIBC_TUNABLES"] = f"{current}:{GLIBC_MALLOC_TUNABLES}" if current else GLIBC_MALLOC_TUNABLES
    if not changes:
        return
    arguments = [sys.executable, *sys.orig_argv[1:]]
    os.execve(sys.executable, arguments, {**os.environ, **changes})  # noqa: S606 - this same command again, no shell


def allow_long_request_lines() -> None:
    """Let ``limit_request_line`` go up to :data:`MAX_REQUEST_LINE_BYTES`.

    gunicorn silently lowers any value above its ``MAX_REQUEST_LINE`` (8190) to it, and only 0 is
    more (unlimited: a request line as long as the client sends within the timeout). The bound it
    compares with is a module constant read when each request is parsed.
    """
    gunicorn.http.message.MAX_REQUEST_LINE = max(
        gunicorn.http.message.MAX_REQUEST_LINE,
        MAX_REQUEST_LINE_BYTES + 1,
    )


def gunicorn_options(host: str, port: int, workers: int, threads: int) -> dict[str, Any]:
    return {
        "bind": f"{host}:{port}",
        "workers": workers,
        "threads": threads,
        "worker_class": "gthread" if threads > 1 else "sync",
        "accesslog": None,  # the app logs JSON lines with a request id
        "graceful_timeout": 10,
        # gunicorn 23+ opens a control socket at one fixed path per user: several services on
        # one host would fight over it, and we do not use it.
        "control_socket_disable": True,
        "limit_request_line": MAX_REQUEST_LINE_BYTES,
        "limit_request_field_size": MAX_HEADER_FIELD_BYTES,
        # Multiprocess metrics (federation/metrics.py): a worker gone no longer counts as live.
        "child_exit": _child_exit,
    }


def run_gunicorn(app: Flask, host: str, port: int, workers: int, threads: int) -> None:
    allow_long_request_lines()
    _Gunicorn(app, gunicorn_options(host, port, workers, threads)).run()


def _child_exit(_server: Arbiter, worker: Worker) -> None:
    worker_exited(worker.pid)
