"""``python -m bench`` (``make bench``): the benchmark suite of issue 7.

Builds a throw-away production-like deployment (``bench.deployment``), starts the services under
gunicorn against PostgreSQL and Redis, drives them from a separate load process, prints
throughput, latency percentiles, worker memory and the PASS/FAIL lines of the targets, then
stops every process and drops the schema. ``--record`` appends the run to docs/benchmarks.md.

Exit status: 0 when every scenario ran (whatever the targets say), 1 when one could not run.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
from contextlib import ExitStack
from types import FrameType
from urllib.parse import urlsplit

from bench.browser_steps import StepFailed
from bench.deployment import deployment
from bench.harness import Bench, BenchError, Plan
from bench.measurement import Measurement, Target
from bench.report import NOT_AVAILABLE, Machine, Report, Section, WorkerMemoryRow, record, render_text
from bench.scenarios import SCENARIOS, SERVERS, TRANSITION_OPS
from bench.servers import ServerError

POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"
REDIS_URL = "redis://127.0.0.1:6379/13"
SEEDED_ACCOUNTS = 20
MAX_WORKER_RSS_MB = 150
# Above this, something else than our processes, PostgreSQL and Redis was using the CPUs.
BUSY_MACHINE_CORES = 0.3


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--record", action="store_true", help="append the run to docs/benchmarks.md")
    parser.add_argument("--quick", action="store_true", help="tiny counts (a smoke run, figures meaningless)")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every operation count")
    parser.add_argument("--time-limit", type=float, default=20.0, help="seconds per timed run at most")
    parser.add_argument("--server-cpus", default="0", help="CPU of the per-core server runs")
    parser.add_argument("--load-cpus", default="1", help="CPU of the load process in those runs")
    parser.add_argument("--postgres-url", default=POSTGRES_URL, help="server URL (a schema is created)")
    parser.add_argument("--redis-url", default=REDIS_URL, help="a Redis database the bench may flush")
    parser.add_argument(
        "--only",
        default="",
        help="comma-separated scenario keys to run (e.g. a,d); default: all. The targets of the "
        "scenarios left out are not printed",
    )
    parser.add_argument(
        "--overload-seconds", type=float, default=None, help="(o): seconds of open-loop load (60; --quick: 3)"
    )
    parser.add_argument(
        "--overload-factor", type=float, default=2.0, help="(o): offered load ÷ capacity (default 2)"
    )
    parser.add_argument(
        "--capacity",
        default="",
        help="(o): SSO/s,logins/s of the 2-worker IdP (e.g. 81,21) instead of measuring them first",
    )
    parser.add_argument(
        "--proxy-setting",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="(o): a variable of config/haproxy/haproxy.cfg, e.g. QUEUE_LIMIT=12 (repeatable)",
    )
    args = parser.parse_args(argv)
    settings = [s.partition("=") for s in args.proxy_setting]
    if any(not name or not sep for name, sep, _ in settings):
        parser.error("--proxy-setting: NAME=VALUE expected")
    args.proxy_setting = tuple((name, value) for name, _, value in settings)
    try:
        args.capacity = tuple(float(x) for x in args.capacity.split(",")) if args.capacity else None
    except ValueError:
        parser.error(f"--capacity: two numbers SSO,LOGIN expected, got {args.capacity!r}")
    if args.capacity is not None and (len(args.capacity) != 2 or min(args.capacity) <= 0):
        parser.error(f"--capacity: two positive numbers SSO,LOGIN expected, got {args.capacity}")
    known = {s.key for s in SCENARIOS}
    args.only = {k.strip() for k in args.only.split(",") if k.strip()}
    if args.only - known:
        parser.error(f"--only: unknown scenario {sorted(args.only - known)}, known: {sorted(known)}")
    return args


def plan_from(args: argparse.Namespace) -> Plan:
    if not shutil.which("taskset"):
        raise SystemExit("taskset (util-linux) is needed to pin the server and the load process")
    cpus = {args.server_cpus, args.load_cpus}
    if len(cpus) != 2 or not cpus <= {str(c) for c in os.sched_getaffinity(0)}:
        raise SystemExit(f"--server-cpus and --load-cpus must be two different usable CPUs, got {cpus}")
    return Plan(
        scale=0.01 if args.quick else args.scale,
        time_limit=5.0 if args.quick else args.time_limit,
        lanes_per_worker=2 if args.quick else 8,
        warmup_ops_per_lane=1 if args.quick else 3,
        server_cpus=args.server_cpus,
        load_cpus=args.load_cpus,
        all_cpus=f"{args.server_cpus},{args.load_cpus}",
        overload_seconds=args.overload_seconds or (3.0 if args.quick else 60.0),
        overload_factor=args.overload_factor,
        capacity=args.capacity,
        proxy_settings=args.proxy_setting,
    )


def setup_lines(plan: Plan, args: argparse.Namespace) -> list[str]:
    return [
        "deployment: EDUCONNECT_MODE=production (https:// base URLs, Secure cookies, signed AuthnRequests) "
        "served as plain HTTP on 127.0.0.1; PostgreSQL (own schema, dropped at the end), "
        f"Redis database {urlsplit(args.redis_url).path.lstrip('/') or '0'} (flushed at start and end)",
        "servers: educonnect-bridge serve (gunicorn gthread, 4 threads per worker) under taskset; "
        "load: a separate process (one HTTP/1.0 request per connection, closed after the reply, as "
        "nginx's default proxy_pass talks to gunicorn)",
        f"per-core runs: server on CPU {plan.server_cpus}, load process on CPU {plan.load_cpus}; "
        "PostgreSQL and Redis unpinned",
        f"operation counts x{plan.scale:g}, at most {plan.time_limit:g} s per timed run, after a warm-up "
        "run; latencies include queueing behind the other clients",
    ]


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _measurement_notes(measurements: list[Measurement]) -> list[str]:
    notes = [
        f"{m.label}: {m.run.errors} failed operations, e.g. {m.run.error_samples[0]}"
        for m in measurements
        if m.run.errors
    ]
    notes += [
        f"{m.label}: CPU time split between the workers "
        + " / ".join(f"{100 * share:.0f} %" for share in m.worker_cpu_split)
        for m in measurements
        if len(m.worker_cpu_split) > 1
    ]
    busiest = max(measurements, key=lambda m: m.other_cpu, default=None)
    if busiest is not None and busiest.other_cpu > BUSY_MACHINE_CORES:
        notes.append(
            f"busy machine: besides PostgreSQL and Redis, other programs shared these CPUs (other CPU up "
            f"to {100 * busiest.other_cpu:.0f} % of a core): these figures are lower than on an idle machine"
        )
    return notes


def run(args: argparse.Namespace) -> Report:
    plan = plan_from(args)
    report = Report(Machine.describe(0.5 if args.quick else 2.0), setup_lines(plan, args))
    with ExitStack() as stack:
        _progress("setting up the deployment (keys, metadata, schema, accounts)…")
        accounts = 2 if args.quick else SEEDED_ACCOUNTS
        aten_parents = plan.count(TRANSITION_OPS) + plan.warmup_ops_per_lane * plan.lanes_per_worker
        dep = stack.enter_context(deployment(args.postgres_url, args.redis_url, accounts, aten_parents))
        _progress(f"deployment in {dep.root}")
        bench = Bench(dep, plan, stack)
        _progress("starting the servers…")
        chosen = [s for s in SCENARIOS if s.key in args.only or (not args.only and s.by_default)]
        bench.start({name: SERVERS[name] for s in chosen for name in s.servers})
        for scenario in chosen:
            section = Section(scenario.key, scenario.title)
            report.sections.append(section)
            if scenario.run is None:
                section.error = NOT_AVAILABLE
                continue
            _progress(f"({scenario.key}) {scenario.title}…")
            try:
                outcome = scenario.run(bench)
            except (BenchError, StepFailed, ServerError, OSError, ValueError) as exc:
                section.error = f"FAILED: {type(exc).__name__}: {exc}"
                continue
            section.measurements = outcome.measurements
            section.notes = outcome.notes + _measurement_notes(outcome.measurements)
            report.targets += outcome.targets
        report.memory = [
            WorkerMemoryRow(name, w.pid, w.rss_kib * 1024 / 1e6, w.pss_kib * 1024 / 1e6)
            for name, server in bench.servers.items()
            for w in server.worker_memory()
        ]
        _progress("stopping the servers, dropping the schema…")
    largest = max((w.rss_mb for w in report.memory), default=None)
    report.targets.append(
        Target("resident memory of the largest worker", largest, MAX_WORKER_RSS_MB, "MB", True)
    )
    return report


def _stop_on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)  # unwinds the ExitStack: servers stopped, schema dropped


def main(argv: list[str] | None = None) -> int:
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    args = parse_args(argv)
    report = run(args)
    print(render_text(report))
    if args.record:
        record(report)
        print("recorded in docs/benchmarks.md")
    return 1 if report.failed_scenarios else 0


if __name__ == "__main__":
    sys.exit(main())
