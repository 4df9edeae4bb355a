"""config/grafana/educonnect.json: valid JSON whose every PromQL expression names only series
that federation/metrics.py exports, grouped by labels those metrics have; and what that module's
definitions promise ``serve`` (labelled metrics, a folder emptied at start)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from federation import metrics

DASHBOARD = Path(__file__).resolve().parents[2] / "config" / "grafana" / "educonnect.json"
# Labels Prometheus adds to every scraped series.
TARGET_LABELS = {"job", "instance"}
# PromQL words an expression of the dashboard may use besides series names.
PROMQL_WORDS = {
    "sum", "rate", "increase", "histogram_quantile", "topk", "by", "without", "label_values",
}  # fmt: skip
SERIES_SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count")}


def exported_series() -> dict[str, set[str]]:
    """Each series name /metrics can show → the labels it carries."""
    series: dict[str, set[str]] = {}
    for metric in vars(metrics).values():
        if not isinstance(metric, (metrics.Counter, metrics.Histogram)):
            continue
        (family,) = metric.describe()
        labels = set(metric._labelnames) | TARGET_LABELS
        for suffix in SERIES_SUFFIXES[family.type]:
            series[family.name + suffix] = labels | ({"le"} if suffix == "_bucket" else set())
    return series


def expressions(node: object) -> list[str]:
    if isinstance(node, dict):
        found = [v for k, v in node.items() if k in ("expr", "definition") and isinstance(v, str)]
        return found + [e for v in node.values() for e in expressions(v)]
    if isinstance(node, list):
        return [e for v in node for e in expressions(v)]
    return []


def names_and_groupings(expr: str) -> tuple[set[str], set[str]]:
    """(identifiers that are not PromQL words: series names; labels of by (...) clauses and
    label_values(series, label))."""
    grouped = {
        label.strip() for clause in re.findall(r"\bby\s*\(([^)]*)\)", expr) for label in clause.split(",")
    }
    grouped |= set(re.findall(r"label_values\(\s*\w+\s*,\s*(\w+)\s*\)", expr))
    bare = re.sub(r"\bby\s*\([^)]*\)", " ", expr)
    bare = re.sub(r"\{[^}]*\}", " ", bare)  # label matchers
    bare = re.sub(r"\[[^\]]*\]", " ", bare)  # range selectors
    bare = re.sub(r"label_values\(\s*(\w+)\s*,\s*\w+\s*\)", r"\1", bare)
    identifiers = set(re.findall(r"[A-Za-z_:][A-Za-z0-9_:]*", bare)) - PROMQL_WORDS
    return identifiers, grouped


def test_the_dashboard_is_a_grafana_dashboard_with_panels() -> None:
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    assert dashboard["uid"] and dashboard["title"]
    assert len(dashboard["panels"]) >= 8
    assert all(panel["targets"] for panel in dashboard["panels"])


def test_every_expression_names_exported_series_and_their_labels() -> None:
    series = exported_series()
    exprs = expressions(json.loads(DASHBOARD.read_text(encoding="utf-8")))
    assert len(exprs) >= 15
    used: set[str] = set()
    for expr in exprs:
        names, grouped = names_and_groupings(expr)
        assert names, expr
        unknown = names - series.keys()
        assert not unknown, f"{expr}: {unknown} not exported by federation/metrics.py"
        for name in names:
            assert grouped <= series[name], f"{expr}: {name} has no label {grouped - series[name]}"
        used |= names
    # At a glance: migration, logins, refusals and latency are all on it.
    for needed in (
        "educonnect_accounts_created_total",
        "educonnect_transitions_started_total",
        "educonnect_logins_total",
        "educonnect_unavailable_responses_total",
        "educonnect_child_attachments_total",
        "educonnect_http_request_duration_seconds_bucket",
    ):
        assert needed in used


@pytest.mark.parametrize(
    "expr",
    [
        "sum(rate(educonnect_login_total[5m]))",  # a typo of the series name
        "sum by (endpoint) (rate(educonnect_logins_total[5m]))",  # a label it does not have
        "educonnect_http_request_duration_seconds_total",  # a histogram has no _total
    ],
)
def test_the_check_refuses_a_series_or_label_that_does_not_exist(expr: str) -> None:
    series = exported_series()
    names, grouped = names_and_groupings(expr)
    assert (names - series.keys()) or any(not grouped <= series.get(n, set()) for n in names)


def test_every_metric_has_labels_so_that_importing_creates_no_series() -> None:
    """An unlabelled metric creates its value (in multiprocess mode, its file) at import, before
    ``serve`` has emptied the directory: every metric has the ``service`` label at least."""
    defined = [m for m in vars(metrics).values() if isinstance(m, (metrics.Counter, metrics.Histogram))]
    assert len(defined) == 9
    for metric in defined:
        assert "service" in metric._labelnames, metric


def test_serve_empties_the_metrics_folder_of_a_previous_run(tmp_path: Path) -> None:
    folder = tmp_path / "metrics" / "idp"
    metrics.prepare_multiprocess_dir(folder)  # created
    (folder / "counter_4242.db").write_bytes(b"old")
    (folder / "histogram_4243.db").write_bytes(b"old")
    (folder / "LISEZMOI").write_text("pas à nous")
    metrics.prepare_multiprocess_dir(folder)
    assert sorted(p.name for p in folder.iterdir()) == ["LISEZMOI"]
