"""Running a Flask app under gunicorn from our own CLI (no separate config file to keep)."""

from __future__ import annotations

import contextlib
import ctypes
from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication


class _Gunicorn(BaseApplication):
    def __init__(self, app: Flask, options: dict[str, Any]) -> None:
        self.application, self.options = app, options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        return self.application


M_ARENA_MAX = -8  # mallopt(3)


def _single_malloc_arena() -> None:
    """glibc gives each thread a malloc arena of its own, and each keeps the 19 MiB of the last
    argon2id computation it ran (measured: 196 MB workers); with one arena the next login reuses
    that memory (136 MB)."""
    with contextlib.suppress(OSError, AttributeError):  # not glibc: nothing to tune
        ctypes.CDLL("libc.so.6").mallopt(M_ARENA_MAX, 1)


def run_gunicorn(app: Flask, host: str, port: int, workers: int, threads: int) -> None:
    _single_malloc_arena()
    _Gunicorn(
        app,
        {
            "bind": f"{host}:{port}",
            "workers": workers,
            "threads": threads,
            "worker_class": "gthread" if threads > 1 else "sync",
            "accesslog": None,  # the app logs JSON lines with a request id
            "graceful_timeout": 10,
            # gunicorn 23+ opens a control socket at one fixed path per user: several services on
            # one host would fight over it, and we do not use it.
            "control_socket_disable": True,
        },
    ).run()
