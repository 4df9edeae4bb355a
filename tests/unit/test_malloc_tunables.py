"""federation.server.exec_with_malloc_tunables: when `serve` starts itself again, and with what."""

from __future__ import annotations

import sys

import pytest

from federation import server
from federation.server import GLIBC_MALLOC_TUNABLES, exec_with_malloc_tunables


class Exec(Exception):
    pass


@pytest.fixture
def execs(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, list[str], dict[str, str]]]:
    calls: list[tuple[str, list[str], dict[str, str]]] = []

    def execve(path: str, args: list[str], env: dict[str, str]) -> None:
        calls.append((path, args, env))
        raise Exec  # execve does not return

    monkeypatch.setattr(server.os, "execve", execve)
    monkeypatch.setattr(server.platform, "libc_ver", lambda: ("glibc", "2.36"))
    monkeypatch.setattr(server.sys, "orig_argv", ["python3", "-m", "educonnect_bridge", "serve", "idp"])
    monkeypatch.delenv("GLIBC_TUNABLES", raising=False)
    return calls


def test_starts_the_same_command_again_with_the_tunables(
    execs: list, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EDUCONNECT_MODE", "production")
    with pytest.raises(Exec):
        exec_with_malloc_tunables()
    [(path, args, env)] = execs
    assert path == sys.executable
    assert args == [sys.executable, "-m", "educonnect_bridge", "serve", "idp"]
    assert env["GLIBC_TUNABLES"] == GLIBC_MALLOC_TUNABLES
    assert env["EDUCONNECT_MODE"] == "production"  # the rest of the environment is kept
    assert "glibc.malloc.hugetlb=1" in GLIBC_MALLOC_TUNABLES.split(":")


def test_other_tunables_of_the_operator_are_kept(execs: list, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GLIBC_TUNABLES", "glibc.cpu.hwcaps=-AVX512F")
    with pytest.raises(Exec):
        exec_with_malloc_tunables()
    assert execs[0][2]["GLIBC_TUNABLES"] == f"glibc.cpu.hwcaps=-AVX512F:{GLIBC_MALLOC_TUNABLES}"


@pytest.mark.parametrize(
    "tunables", [GLIBC_MALLOC_TUNABLES, "glibc.malloc.arena_max=4"], ids=["already-started-again", "operator"]
)
def test_malloc_tunables_in_the_environment_mean_no_restart(
    execs: list, monkeypatch: pytest.MonkeyPatch, tunables: str
) -> None:
    monkeypatch.setenv("GLIBC_TUNABLES", tunables)
    exec_with_malloc_tunables()
    assert execs == []


def test_no_restart_outside_glibc(execs: list, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(server.platform, "libc_ver", lambda: ("", ""))
    exec_with_malloc_tunables()
    assert execs == []


def test_a_missing_default_is_added_even_with_the_tunables_already_there(
    execs: list, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GLIBC_TUNABLES", GLIBC_MALLOC_TUNABLES)
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    with pytest.raises(Exec):
        exec_with_malloc_tunables({"PROMETHEUS_MULTIPROC_DIR": "/srv/var/metrics/idp"})
    [(_, _, env)] = execs
    assert env["PROMETHEUS_MULTIPROC_DIR"] == "/srv/var/metrics/idp"
    assert env["GLIBC_TUNABLES"] == GLIBC_MALLOC_TUNABLES  # not added twice


def test_a_default_the_environment_already_sets_is_kept(execs: list, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GLIBC_TUNABLES", GLIBC_MALLOC_TUNABLES)
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", "/run/operator-metrics")
    exec_with_malloc_tunables({"PROMETHEUS_MULTIPROC_DIR": "/srv/var/metrics/idp"})
    assert execs == []  # started again already (or the operator's choice): nothing to add
