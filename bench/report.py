"""Printing a run (plain text) and recording it in docs/benchmarks.md (Markdown)."""

from __future__ import annotations

import datetime as dt
import os
import platform
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from bench.load import cpu_busy_seconds
from bench.measurement import Measurement, Target
from federation.settings import PROJECT_ROOT

RECORD_PATH = PROJECT_ROOT / "docs" / "benchmarks.md"
NOT_AVAILABLE = "not available yet"


# Issue 7: "a raw RSA-2048 signature costs about 1/3,200 s" on the machine its targets come from.
REFERENCE_RSA_SIGNS_PER_SECOND = 3200


@dataclass(frozen=True)
class Machine:
    date: str
    cores: int
    cpu_model: str
    python: str
    commit: str
    background_cores: float  # CPU already busy before the run, in cores
    rsa_signs_per_second: float = 0.0  # RSA-2048 PKCS#1 v1.5 SHA-256, one thread

    @classmethod
    def describe(cls, sample_seconds: float = 2.0) -> Machine:
        return cls(
            date=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
            cores=os.cpu_count() or 0,
            cpu_model=_cpu_model(),
            python=platform.python_version(),
            commit=_commit(),
            background_cores=_background_load(sample_seconds),
            rsa_signs_per_second=_rsa_signs_per_second(min(sample_seconds, 1.0)),
        )

    def speed_line(self) -> str:
        """This machine's raw signing speed against the one issue 7's figures come from."""
        relative = self.rsa_signs_per_second / REFERENCE_RSA_SIGNS_PER_SECOND
        return (
            f"raw RSA-2048 signatures: {self.rsa_signs_per_second:.0f}/s on one core "
            f"(issue 7 measured {REFERENCE_RSA_SIGNS_PER_SECOND}/s: this machine signs at "
            f"{100 * relative:.0f} % of that speed)"
        )


@dataclass(frozen=True)
class WorkerMemoryRow:
    server: str
    pid: int
    rss_mb: float
    pss_mb: float


@dataclass
class Section:
    key: str
    title: str
    measurements: list[Measurement] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    error: str | None = None  # NOT_AVAILABLE, or why the scenario failed


@dataclass
class Report:
    machine: Machine
    setup: list[str]
    sections: list[Section] = field(default_factory=list)
    memory: list[WorkerMemoryRow] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)

    @property
    def failed_scenarios(self) -> list[str]:
        return [s.key for s in self.sections if s.error and s.error != NOT_AVAILABLE]

    @property
    def all_passed(self) -> bool:
        return not self.failed_scenarios and all(t.passed for t in self.targets)


_HEADER = ("configuration", "CPUs srv/load", "clients", "ops", "errors", "ops/s", "per core",
           "p50 ms", "p95 ms", "p99 ms", "srv CPU ms/op", "load CPU", "other CPU")  # fmt: skip


def _row(m: Measurement) -> tuple[str, ...]:
    return (
        m.label,
        f"{m.server_cpus} / {m.load_cpus}",
        str(m.lanes),
        str(m.run.completed),
        str(m.run.errors),
        f"{m.throughput:.1f}",
        f"{m.per_core:.1f}",
        f"{m.latency_ms(50):.1f}",
        f"{m.latency_ms(95):.1f}",
        f"{m.latency_ms(99):.1f}",
        f"{m.server_cpu_ms_per_op:.2f}",
        f"{100 * m.load_cpu_share:.0f} %",
        f"{100 * m.other_cpu:.0f} %",
    )


def _table(rows: list[tuple[str, ...]]) -> Iterator[str]:
    widths = [max(len(r[i]) for r in [_HEADER, *rows]) for i in range(len(_HEADER))]
    for r in [_HEADER, *rows]:
        cells = [r[0].ljust(widths[0]), r[1].ljust(widths[1])]
        cells += [cell.rjust(width) for cell, width in zip(r[2:], widths[2:], strict=True)]
        yield "  " + "  ".join(cells)


def render_text(report: Report) -> str:
    m = report.machine
    lines = [
        f"educonnect-bridge benchmark, {m.date}",
        f"machine: {m.cores} cores, {m.cpu_model}; Python {m.python}; commit {m.commit}",
        f"background load before the run: {100 * m.background_cores:.0f} % of one core (other programs)",
        m.speed_line(),
        *report.setup,
        "columns: ops/s over the timed window; per core = ops/s ÷ server cores; srv CPU = CPU time of the "
        "gunicorn processes (for SimpleSAMLphp: nginx, php-fpm and memcached) per operation; load CPU = "
        "the load process, other CPU = anything else (PostgreSQL, Redis, other programs) on the measured "
        "CPUs, in % of one core",
    ]
    for section in report.sections:
        lines.append("")
        if section.error:
            lines.append(f"({section.key}) {section.title}: {section.error}")
            continue
        lines.append(f"({section.key}) {section.title}")
        lines.extend(_table([_row(x) for x in section.measurements]))
        lines.extend(f"  note: {note}" for note in section.notes)
    lines += ["", "memory per gunicorn worker after its runs (VmRSS; PSS shares the pages common to workers)"]
    lines += [
        f"  {w.server:<14} pid {w.pid:<8} RSS {w.rss_mb:6.1f} MB   PSS {w.pss_mb:6.1f} MB"
        for w in report.memory
    ]
    lines += ["", "targets (issue 7 item 4, issue 15, issue 17 item 2)"]
    lines += [f"  {t.line()}" for t in report.targets]
    lines += [f"  FAIL  ({key}) could not run: its targets are not judged" for key in report.failed_scenarios]
    lines.append(f"  {'all targets pass' if report.all_passed else 'some targets FAIL'}")
    return "\n".join(lines)


def render_markdown(report: Report) -> str:
    m = report.machine
    lines = [
        f"### {m.date}, commit {m.commit[:12]}",
        "",
        f"Machine: {m.cores} cores (`nproc`), {m.cpu_model}, Python {m.python}; "
        f"background load before the run {100 * m.background_cores:.0f} % of one core; {m.speed_line()}.",
        "",
        *(f"- {line}" for line in report.setup),
        "",
        "| scenario | " + " | ".join(_HEADER) + " |",
        "|" + " --- |" * (len(_HEADER) + 1),
    ]
    for section in report.sections:
        if section.error:
            lines.append(f"| ({section.key}) {section.title} | {section.error} |" + " |" * (len(_HEADER) - 1))
        for x in section.measurements:
            lines.append(f"| ({section.key}) | " + " | ".join(_row(x)) + " |")
    notes = [f"- ({section.key}) {note}" for section in report.sections for note in section.notes]
    if notes:
        lines += ["", "Notes:", "", *notes]
    lines += [
        "",
        "Memory per worker: " + ", ".join(f"{w.server} {w.rss_mb:.0f} MB" for w in report.memory) + ".",
    ]
    lines += ["", "Targets:", ""]
    lines += [f"- {t.line()}" for t in report.targets]
    return "\n".join(lines) + "\n"


def record(report: Report, path: Path = RECORD_PATH) -> None:
    """Append this run to the benchmark log (docs/benchmarks.md, under « Recorded runs »)."""
    with path.open("a", encoding="utf-8") as fh:
        fh.write("\n" + render_markdown(report))


def _rsa_signs_per_second(seconds: float) -> float:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        key.sign(b"educonnect-bridge", padding.PKCS1v15(), hashes.SHA256())
        count += 1
    return count / (time.perf_counter() - start)


def _background_load(seconds: float) -> float:
    before = cpu_busy_seconds()
    time.sleep(seconds)
    after = cpu_busy_seconds()
    return sum(after[c] - before.get(c, after[c]) for c in after) / seconds


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _commit() -> str:
    try:
        done = subprocess.run(
            ["git", "rev-parse", "HEAD"],  # noqa: S607 - read-only, on the developer's PATH
            capture_output=True,
            cwd=PROJECT_ROOT,
            timeout=10,
            check=False,
        )
    except OSError:
        return "unknown"
    return done.stdout.decode().strip() or "unknown"
