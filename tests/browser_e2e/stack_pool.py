"""The browser tests' live stacks: one per protocol for the whole session, each test on fresh state.

Starting a stack (``demo --no-serve``, then three gunicorn services) takes half a minute on a busy
machine, while a journey of the help page changes what the next one finds: the transition creates
an ÉduConnect account (each ATEN demo parent can be migrated once), dates typed count attempts,
logins count towards the throttle. So each stack is started once, its two SQLite files (the IdP
database and the embedded store of sessions, pending requests, consumed IDs and counters) are
copied just after it became ready, and :meth:`StackPool.fresh` copies them back before a test:
every test starts from the seeded demo, as after ``make demo``. The demo's mailbox
(``var/mailbox``, « Boîte de réception de la démo ») is emptied too: a journey reads only the
messages it made ÉduConnect send.

The copies go through SQLite's online backup API, which takes the database's locks like any
writer: the services keep their connections and read the restored pages at their next transaction.
"""

from __future__ import annotations

import sqlite3
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path

from tests.live_stack import LiveStack, live_stack

PROTOCOLS = ("saml", "oidc")
STATE_FILES = ("educonnect.sqlite3", "store.sqlite3")  # under the stack's var/
MAILBOX = "mailbox"  # under the stack's var/: one .eml file per message (federation.mail)


def copy_database(source: Path, target: Path) -> None:
    src, dst = sqlite3.connect(source), sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        src.close()
        dst.close()


class StackPool:
    """Both stacks, started side by side at the first request (their start-up is mostly waiting
    on subprocesses), stopped when the session ends."""

    def __init__(self, root: Path) -> None:
        self._root = root
        self._exits = ExitStack()
        self._stacks: dict[str, LiveStack] = {}

    def get(self, protocol: str) -> LiveStack:
        if not self._stacks:
            self._start_all()
        return self._stacks[protocol]

    def fresh(self, protocol: str) -> LiveStack:
        """The stack of ``protocol``, its database and store back to what the demo seeded."""
        stack = self.get(protocol)
        for name in STATE_FILES:
            copy_database(self._snapshot(protocol) / name, stack.root / "var" / name)
        for message in (stack.root / "var" / MAILBOX).glob("*.eml"):
            message.unlink()
        return stack

    def close(self) -> None:
        self._exits.close()

    def _snapshot(self, protocol: str) -> Path:
        return self._root / f"pristine-{protocol}"

    def _start_all(self) -> None:
        managers = {p: live_stack(self._root / f"stack-{p}", protocol=p) for p in PROTOCOLS}
        for protocol in PROTOCOLS:
            (self._root / f"stack-{protocol}").mkdir()
        with ThreadPoolExecutor(len(managers)) as pool:
            started = {p: pool.submit(m.__enter__) for p, m in managers.items()}
        for protocol, future in started.items():
            # Registered before .result() re-raises: a stack that did start is stopped anyway.
            if future.exception() is None:
                self._exits.push(managers[protocol].__exit__)
        for protocol, future in started.items():
            self._stacks[protocol] = future.result()
            snapshot = self._snapshot(protocol)
            snapshot.mkdir()
            for name in STATE_FILES:
                copy_database(self._stacks[protocol].root / "var" / name, snapshot / name)
