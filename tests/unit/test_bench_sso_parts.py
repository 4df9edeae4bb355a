"""bench.sso_parts: a part's time excludes the parts nested in it; the report's lines add up."""

from __future__ import annotations

import time

from bench.sso_parts import PARTS, PartTimer, Split, split_lines


def busy(seconds: float) -> None:
    end = time.thread_time() + seconds
    while time.thread_time() < end:
        pass


def test_a_nested_part_is_not_counted_in_its_caller():
    timer = PartTimer()
    with timer.part("outer"):
        busy(0.02)
        with timer.part("inner"):
            busy(0.04)
    assert 0.035 <= timer.totals["inner"] <= 0.06
    assert 0.015 <= timer.totals["outer"] <= 0.035  # its own 20 ms, not the inner 40


def test_a_wrapped_method_is_timed_under_its_part():
    class Service:
        def work(self) -> str:
            busy(0.01)
            return "done"

    service, timer = Service(), PartTimer()
    timer.wrap(service, "work", "work")
    assert service.work() == "done"
    assert timer.totals["work"] >= 0.009


def test_the_report_names_every_part_with_its_share():
    per_sso = dict.fromkeys(PARTS, 1.0)
    lines = split_lines(
        Split(per_sso, total_ms=float(len(PARTS)), redis_commands=6, sql_statements=1, count=10)
    )
    assert "6.0 Redis commands and 1.0 SQL statements" in lines[0]
    assert len(lines) == 1 + len(PARTS)
    assert all(f"{name}: 1.00 ms (11 %)" in line for name, line in zip(PARTS, lines[1:], strict=True))
