"""What a benchmark run produces: measurements (throughput, latency percentiles) and targets."""

from __future__ import annotations

from dataclasses import dataclass, field

from bench.load import RunResult


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0-100) of ``values``; 0 for an empty list."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))  # ceil without floats
    return ordered[int(rank) - 1]


@dataclass(frozen=True)
class Measurement:
    """One timed load run against one server configuration."""

    label: str
    workers: int
    server_cpus: str  # taskset list, e.g. "0" or "0,1"
    load_cpus: str  # taskset list, or "any" when unpinned
    lanes: int  # concurrent clients
    run: RunResult
    server_cpu_seconds: float
    # CPU taken on the measured CPUs by anything else (PostgreSQL, Redis, other programs of the
    # machine), in cores: a busy machine shows here, not only in slower figures.
    other_cpu: float = 0.0
    # Share of the workers' CPU time taken by each worker (several workers: is the load balanced?)
    worker_cpu_split: tuple[float, ...] = ()

    @property
    def server_cores(self) -> int:
        return len(self.server_cpus.split(","))

    @property
    def throughput(self) -> float:
        return self.run.completed / self.run.wall if self.run.wall > 0 else 0.0

    @property
    def per_core(self) -> float:
        return self.throughput / self.server_cores

    @property
    def server_cpu_ms_per_op(self) -> float:
        return 1000 * self.server_cpu_seconds / self.run.completed if self.run.completed else 0.0

    @property
    def load_cpu_share(self) -> float:
        """Share of one core the load process used while driving."""
        return self.run.cpu / self.run.wall if self.run.wall > 0 else 0.0

    def latency_ms(self, q: float) -> float:
        return 1000 * percentile(self.run.latencies, q)


@dataclass(frozen=True)
class Target:
    """One target of issue 7 item 4: a measured value against a threshold."""

    name: str
    value: float | None  # None when it could not be measured (a run failed)
    threshold: float
    unit: str
    at_most: bool = False  # True for limits (memory), False for floors (speed)

    @property
    def passed(self) -> bool:
        if self.value is None:
            return False
        return self.value <= self.threshold if self.at_most else self.value >= self.threshold

    def line(self) -> str:
        verdict = "PASS" if self.passed else "FAIL"
        shown = "n/a" if self.value is None else _number(self.value, self.unit)
        sign = "≤" if self.at_most else "≥"
        return f"{verdict}  {self.name}: {shown} (target {sign} {_number(self.threshold, self.unit)})"


def _number(value: float, unit: str) -> str:
    if unit == "%":
        return f"{100 * value:.0f} %"
    if unit == "×":
        return f"{value:.1f}×"
    return f"{value:.0f} {unit}"


@dataclass
class Outcome:
    """What one scenario contributes to the report."""

    measurements: list[Measurement] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def other_cpu(run: RunResult, cpus: str, own_seconds: float) -> float:
    """Cores' worth of CPU used on ``cpus`` during ``run`` by processes other than ours."""
    busy = sum(run.cpu_busy.get(cpu, 0.0) for cpu in cpus.split(","))
    return max(busy - own_seconds, 0.0) / run.wall if run.wall > 0 else 0.0


def ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator > 0 else None
