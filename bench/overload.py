"""(o) Overload, issue 15 item 1: twice the measured capacity for 60 s, through HAProxy.

The IdP runs with 2 gunicorn workers on both cores behind Debian's HAProxy and the shipped
``config/haproxy/haproxy.cfg`` (per-replica connection limit, queue limits, queue timeout), with
EDUCONNECT_TRUSTED_PROXIES=1 so that it refuses what waited past its budget. First its capacity
is measured, closed loop and straight to gunicorn, for SSO of a signed-in parent and for
password logins (or given with ``--capacity SSO,LOGIN``). Then an open-loop process
(:mod:`bench.open_loop`) offers, for ``--overload-seconds``, SSO at ``factor/2`` × the SSO
capacity and logins at ``factor/2`` × the login capacity (each half of the work would fill the
IdP alone: ``factor`` × its capacity in all), plus 2 health checks a second.

Reported per kind: the admitted requests' latency, the refusals (the French 503, by the proxy
or by the IdP) and their latency, and every other answer (a 5xx other than the deliberate 503,
a timeout, a wrong page) as an error. Targets: admitted p95 under 250 ms, refusals under 50 ms
(p95), no error.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass

from bench.browser_steps import ent_authn_request, login_body, login_form, signed_in_idp_session
from bench.deployment import BASE_URLS, PASSWORD
from bench.harness import LOAD_PROCESS_GRACE_SECONDS, Bench, BenchError, Clients, in_lanes
from bench.load import Operation, RunResult, Step
from bench.measurement import Measurement, Outcome, Target, percentile
from bench.open_loop import OpenLoopSpec, Request, Stream
from bench.proxy import proxy_environment, running_proxy, self_signed_pem
from federation.settings import PROJECT_ROOT

SERVER = "idp-2-workers-proxied"
SSO_SESSIONS = 32
HEALTH_RATE = 2.0
ADMITTED_P95_MS = 250
REFUSED_P95_MS = 50
CALIBRATION_SSO_OPS = 3500
CALIBRATION_LOGIN_OPS = 900


@dataclass(frozen=True)
class Capacity:
    sso: float  # SSO answered per second, 2 workers
    login: float  # password logins per second, 2 workers


def measure_capacity(bench: Bench, sessions: list[str]) -> tuple[Capacity, list[Measurement]]:
    """Closed loop, straight to gunicorn (no proxy stamp: nothing refused): the ceiling."""
    plan, clients = bench.plan, Clients()
    idp, ent = bench.servers[SERVER], bench.servers["ent"]
    lanes = 2 * plan.lanes_per_worker
    identifiers = bench.dep.identifiers

    def sso(count: int) -> list[list[Operation]]:
        paths = bench.prepare(lambda _: ent_authn_request(clients.to(ent.port))[1], range(count))
        step = 'name="SAMLResponse"'
        ops = [
            Operation(steps=(Step("GET", p, 200, step),), cookie=sessions[n % len(sessions)])
            for n, p in enumerate(paths)
        ]
        return in_lanes(ops, lanes)

    def logins(count: int) -> list[list[Operation]]:
        forms = bench.prepare(lambda _: login_form(clients.to(idp.port)), range(count))
        ops = [
            Operation(
                steps=(Step("POST", "/connexion", 302, "/compte", _login(token, identifiers, i)),),
                cookie=cookie,
            )
            for i, (cookie, token) in enumerate(forms)
        ]
        return in_lanes(ops, lanes)

    warm = plan.warmup_ops_per_lane * lanes
    sso_run = bench.measure(
        "capacity: SSO, closed loop", idp, sso(plan.count(CALIBRATION_SSO_OPS)), sso(warm)
    )
    login_run = bench.measure(
        "capacity: login, closed loop", idp, logins(plan.count(CALIBRATION_LOGIN_OPS)), logins(warm)
    )
    if not sso_run.throughput or not login_run.throughput:
        raise BenchError("capacity could not be measured (no operation completed)")
    return Capacity(sso=sso_run.throughput, login=login_run.throughput), [sso_run, login_run]


def _login(token: str, identifiers: tuple[str, ...], i: int) -> str:
    return login_body(token, identifiers[i % len(identifiers)], PASSWORD)


def overload(bench: Bench) -> Outcome:
    plan, clients = bench.plan, Clients()
    idp, ent = bench.servers[SERVER], bench.servers["ent"]
    identifiers = bench.dep.identifiers
    sessions = bench.prepare(
        lambda i: signed_in_idp_session(clients.to(idp.port), identifiers[i % len(identifiers)], PASSWORD),
        range(SSO_SESSIONS),
    )
    notes = []
    calibration: list[Measurement] = []
    if plan.capacity is not None:
        capacity = Capacity(*plan.capacity)
        notes.append(f"capacity given: {capacity.sso:g} SSO/s, {capacity.login:g} logins/s (2 workers)")
    else:
        capacity, calibration = measure_capacity(bench, sessions)
        notes.append(
            f"capacity measured: {capacity.sso:.1f} SSO/s, {capacity.login:.1f} logins/s (2 workers, "
            'the two "capacity" rows)'
        )
    seconds, share = plan.overload_seconds, plan.overload_factor / 2
    sso_rate, login_rate = share * capacity.sso, share * capacity.login
    sso_count, login_count = int(sso_rate * seconds) + 1, int(login_rate * seconds) + 1
    sso_paths = bench.prepare(lambda _: ent_authn_request(clients.to(ent.port))[1], range(sso_count))
    forms = bench.prepare(lambda _: login_form(clients.to(idp.port)), range(login_count))
    streams = [
        Stream(
            "sso",
            sso_rate,
            200,
            'name="SAMLResponse"',
            [Request("GET", path, None, sessions[n % len(sessions)]) for n, path in enumerate(sso_paths)],
        ),
        Stream(
            "login",
            login_rate,
            302,
            "/compte",
            [
                Request("POST", "/connexion", _login(token, identifiers, i), cookie)
                for i, (cookie, token) in enumerate(forms)
            ],
        ),
        Stream(
            "health", HEALTH_RATE, 200, '"ok"', [Request("GET", "/healthz")] * int(HEALTH_RATE * seconds + 1)
        ),
    ]
    tls = bench.dep.root / "proxy-tls"
    self_signed_pem(tls)
    env = proxy_environment({"idp": idp.port}, {str(k): v for k, v in BASE_URLS.items()}, tls)
    env.update(plan.proxy_settings)
    host = BASE_URLS["idp"].split("://", 1)[1]
    with running_proxy(env, bench.dep.root / "haproxy.log", ready_backends=("idp",)) as proxy:
        spec = OpenLoopSpec(port=proxy.http_port, host=host, duration=seconds, streams=streams)
        cpu_before = idp.cpu_seconds()
        records, load_cpu, wall = _drive(bench, spec)
        server_cpu = idp.cpu_seconds() - cpu_before
    notes.insert(
        0,
        f"offered {plan.overload_factor:g}× capacity for {seconds:g} s, open loop through HAProxy: "
        f"{sso_rate:.1f} SSO/s + {login_rate:.1f} logins/s + {HEALTH_RATE:g} health checks/s; "
        f"HAProxy SERVER_MAXCONN={env['SERVER_MAXCONN']}, queue timeout {env['ADMISSION_QUEUE_TIMEOUT']}, "
        f"QUEUE_LIMIT_ARGON2={env.get('QUEUE_LIMIT_ARGON2', 2)}, QUEUE_LIMIT={env.get('QUEUE_LIMIT', 8)}; "
        "the IdP's budgets: 100 ms for logins, 150 ms for the rest (defaults)",
    )
    return _outcome(records, load_cpu, wall, server_cpu, plan.all_cpus, notes, calibration)


def _drive(bench: Bench, spec: OpenLoopSpec) -> tuple[list[dict[str, object]], float, float]:
    path = bench.dep.root / "overload.json"
    spec.dump(path)
    try:
        done = subprocess.run(
            [sys.executable, "-m", "bench.open_loop", str(path)],
            capture_output=True,
            cwd=PROJECT_ROOT,
            timeout=spec.duration + 30 + LOAD_PROCESS_GRACE_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise BenchError("open-loop load process did not finish in time") from exc
    finally:
        path.unlink(missing_ok=True)
    if done.returncode != 0:
        raise BenchError(f"open-loop load process failed:\n{done.stderr.decode(errors='replace')[-2000:]}")
    result = json.loads(done.stdout)
    return result["records"], result["cpu"], result["wall"]


def _float(value: object) -> float:
    return float(value) if isinstance(value, int | float) else 0.0


def _int(value: object) -> int:
    return value if isinstance(value, int) else 0


def _outcome(
    records: list[dict[str, object]],
    load_cpu: float,
    wall: float,
    server_cpu: float,
    cpus: str,
    notes: list[str],
    calibration: list[Measurement],
) -> Outcome:
    def latencies(kind: str | None, outcomes: tuple[str, ...]) -> list[float]:
        return [
            _float(r["latency"])
            for r in records
            if (kind is None or r["kind"] == kind) and r["outcome"] in outcomes
        ]

    def row(label: str, values: list[float], errors: int = 0) -> Measurement:
        return Measurement(
            label=label,
            workers=2,
            server_cpus=cpus,
            load_cpus="any",
            lanes=0,
            run=RunResult(completed=len(values), errors=errors, wall=wall, cpu=load_cpu, latencies=values),
            server_cpu_seconds=server_cpu if label.startswith("all") else 0.0,
        )

    refused = ("refused-proxy", "refused-app")
    errors = [r for r in records if not (r["outcome"] == "served" or r["outcome"] in refused)]
    rows = [*calibration]
    for kind in ("sso", "login", "health"):
        kind_errors = sum(1 for r in errors if r["kind"] == kind)
        rows.append(row(f"{kind}: admitted", latencies(kind, ("served",)), kind_errors))
        rows.append(row(f"{kind}: refused by HAProxy", latencies(kind, ("refused-proxy",))))
        rows.append(row(f"{kind}: refused by the IdP", latencies(kind, ("refused-app",))))
    by_source = Counter(str(r["outcome"]) for r in records if r["outcome"] in refused)
    lag = [_float(r["lag"]) for r in records]
    notes += [
        "the load process is not pinned (open loop: it must keep sending whatever the server does)",
        f"refusals: {by_source['refused-proxy']} by HAProxy (queue limits, queue timeout), "
        f"{by_source['refused-app']} by the IdP (waited past its budget)",
        f"generator lag p99 {1000 * percentile(lag, 99):.1f} ms, max {1000 * max(lag, default=0.0):.1f} ms "
        "(time between a request's due time and its sending)",
    ]
    kinds = Counter(str(r["outcome"]).split(":")[0] + f" ({r['kind']})" for r in errors)
    if errors:
        notes.append("errors: " + ", ".join(f"{n} {what}" for what, n in kinds.most_common()))
        notes.append(f"e.g. {errors[0]['outcome']}")
    admitted = latencies("sso", ("served",)) + latencies("login", ("served",))
    five_xx = sum(1 for r in errors if 500 <= _int(r["status"]) < 600 or r["outcome"] == "timeout")
    admitted_p95 = 1000 * percentile(admitted, 95) if admitted else None
    refusals_p95 = 1000 * percentile(latencies(None, refused), 95)
    targets = [
        Target("(o) admitted SSO and logins p95 at 2× capacity", admitted_p95, ADMITTED_P95_MS, "ms", True),
        Target("(o) refusals p95", refusals_p95, REFUSED_P95_MS, "ms", True),
        Target("(o) 5xx other than the deliberate 503, and timeouts", float(five_xx), 0, "", True),
    ]
    return Outcome(measurements=rows, targets=targets, notes=notes)
