"""``/metrics`` of a real ``educonnect-bridge serve idp --workers 2``: whichever worker answers
the scrape, it counts the requests every worker served (prometheus_client's multiprocess mode,
one file per worker in ``<state dir>/metrics/idp``), also those of a worker killed since."""

from __future__ import annotations

import os
import re
import secrets
import shutil
import signal
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest, multiprocess

from tests.live_stack import LiveStack, http_get, live_stack

TOKEN = secrets.token_urlsafe(32)
HEALTHZ = re.compile(
    r'^educonnect_http_requests_total\{endpoint="healthz",[^}]*service="idp"[^}]*\} (\S+)$', re.M
)
REQUESTS = 60


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveStack]:
    with live_stack(
        tmp_path_factory.mktemp("metrics-live"),
        extra_env={"EDUCONNECT_METRICS_TOKEN": TOKEN},
        serve_options=("--workers", "2", "--threads", "1"),  # sync workers: one request at a time each
    ) as stack:
        yield stack


def healthz_count(text: str) -> float:
    return sum(float(v) for v in HEALTHZ.findall(text))


def scrape(url: str, token: str | None = TOKEN) -> str:
    assert url.startswith("http://127.0.0.1:")
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    request = urllib.request.Request(f"{url}/metrics", headers=headers)  # noqa: S310 - loopback
    with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310 - loopback, checked above
        return str(answer.read().decode())


def workers_of(pid: int) -> set[int]:
    return set(map(int, Path(f"/proc/{pid}/task/{pid}/children").read_text().split()))


def per_worker_healthz(metrics_dir: Path, scratch: Path) -> dict[int, float]:
    """What each worker's own file says (each file collected alone)."""
    counts: dict[int, float] = {}
    for db in metrics_dir.glob("counter_*.db"):
        alone = scratch / db.stem
        alone.mkdir()
        shutil.copy(db, alone / db.name)
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=str(alone))
        counts[int(db.stem.removeprefix("counter_"))] = healthz_count(generate_latest(registry).decode())
    return counts


def hit_healthz(url: str, count: int) -> None:
    def one(_: int) -> int:
        with http_get(f"{url}/healthz") as answer:
            return int(answer.status)

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert list(pool.map(one, range(count))) == [200] * count


def test_metrics_sums_the_requests_of_both_workers(live: LiveStack, tmp_path: Path) -> None:
    url, master = live.urls["idp"], live.pids["idp"]
    workers = workers_of(master)
    assert len(workers) == 2
    metrics_dir = live.root / "var" / "metrics" / "idp"
    assert os.environ.get("PROMETHEUS_MULTIPROC_DIR") is None  # set by `serve` for itself only
    before = healthz_count(scrape(url))  # the readiness polls of the start went to /readyz
    hit_healthz(url, REQUESTS)
    per_worker = per_worker_healthz(metrics_dir, tmp_path)
    served = {pid: n for pid, n in per_worker.items() if n > 0}
    assert set(served) == workers, per_worker  # both workers answered some, in their own file
    assert sum(served.values()) == before + REQUESTS
    for _ in range(4):  # whichever worker answers the scrape, the sum of both
        assert healthz_count(scrape(url)) == before + REQUESTS


def test_the_requests_of_a_killed_worker_still_count(live: LiveStack) -> None:
    url, master = live.urls["idp"], live.pids["idp"]
    before = healthz_count(scrape(url))
    hit_healthz(url, 20)
    old = workers_of(master)
    victim = min(old)
    os.kill(victim, signal.SIGKILL)
    deadline = time.monotonic() + 60
    while (victim in workers_of(master) or len(workers_of(master)) < 2) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert victim not in workers_of(master) and len(workers_of(master)) == 2
    assert healthz_count(scrape(url)) == before + 20


def test_the_live_metrics_refuse_a_scrape_without_the_token(live: LiveStack) -> None:
    import urllib.error

    for token in (None, TOKEN[:-1] + ("A" if TOKEN[-1] != "A" else "B")):
        with pytest.raises(urllib.error.HTTPError) as refused:
            scrape(live.urls["idp"], token)
        assert refused.value.code == 404
        assert b"educonnect_" not in refused.value.read()
