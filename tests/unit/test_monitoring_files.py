"""The alert rules, the Grafana dashboard and the scrape example name only metrics that exist.

A metric renamed in shared/metrics.py, or a business figure renamed in a store's gauges(), fails
here instead of leaving an alert that never fires or an empty panel. promtool (make lint)
checks the rules' syntax and behaviour; this checks the names.
"""

from __future__ import annotations

import importlib
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from shared.contracts.topology import SERVICE_NAMES
from shared.metrics import Metrics

REPO = Path(__file__).resolve().parents[2]
ALERTS = REPO / "deploy" / "prometheus" / "alerts.yml"
SCRAPE = REPO / "deploy" / "prometheus" / "prometheus.yml"
DASHBOARD = REPO / "deploy" / "grafana" / "pension-streams.json"

PROMQL_WORDS = frozenset({
    "by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless",
    "offset", "bool", "inf", "nan",
})
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_MATCHERS = re.compile(r"\{[^{}]*\}")
_RANGE = re.compile(r"\[[^\[\]]*\]")
_LABEL_LIST = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)")
_IDENTIFIER = re.compile(r"(?<![\w.$])([A-Za-z_:][A-Za-z0-9_:]*)(?!\w)(\s*\()?")


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects: identifiers that are not functions,
    keywords, labels (inside braces or by-lists) or durations."""
    text = _STRING.sub('""', expr)
    text = _MATCHERS.sub("", text)
    text = _RANGE.sub("", text)
    text = _LABEL_LIST.sub("", text)
    return {name for name, call in _IDENTIFIER.findall(text)
            if not call and name.lower() not in PROMQL_WORDS}


def business_names(expr: str) -> set[str]:
    return set(re.findall(r'\bname\s*=\s*"([^"]+)"', expr)) if "pension_business_gauge" in expr \
        else set()


def exposed_metrics() -> set[str]:
    """Every sample name a service's /metrics can carry, labelled children not yet made too."""
    names = {"up"}  # Prometheus adds it to every target
    for family in Metrics("collection").registry.collect():
        suffixes = {"counter": ("_total", "_created"), "histogram": (
            "_bucket", "_sum", "_count", "_created")}.get(family.type, ("",))
        names.update(family.name + suffix for suffix in suffixes)
    return names


class _AnyRow(dict[str, int]):
    """A row whose every column is 1, so a gauges() function returns all of its names."""

    def __getitem__(self, key: str) -> int:
        return 1


class _OneRowConnection:
    async def fetch(self, *args: Any) -> list[_AnyRow]:
        return [_AnyRow()]


async def reported_business_names() -> set[str]:
    names: set[str] = set()
    for service in SERVICE_NAMES:
        store = importlib.import_module(f"services.{service}.store")
        names.update(name for name, _, _ in await store.gauges(_OneRowConnection()))
    return names


def alert_rules() -> list[dict[str, Any]]:
    document = yaml.safe_load(ALERTS.read_text(encoding="utf-8"))
    return [rule for group in document["groups"] for rule in group["rules"]]


def dashboard_panels() -> list[dict[str, Any]]:
    document = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    panels: list[dict[str, Any]] = []
    for panel in document["panels"]:
        panels.append(panel)
        panels.extend(panel.get("panels", ()))  # a collapsed row holds its panels
    return panels


def dashboard_exprs() -> list[tuple[str, str]]:
    return [(panel["title"], target["expr"]) for panel in dashboard_panels()
            for target in panel.get("targets", ())]


def test_the_name_reader_finds_metrics_and_skips_functions_labels_and_keywords() -> None:
    expr = ('sum by (service, topic) (rate(pension_records_consumed_total{topic=~"a.b", '
            'service="x"}[5m])) > 0 unless on (service) up{job="y"} offset 5m '
            'and histogram_quantile(0.99, sum by (le) (rate(h_bucket[$__rate_interval])))')
    assert metric_names(expr) == {"pension_records_consumed_total", "up", "h_bucket"}
    assert metric_names('pension_business_gauge{name="x"} / 100 > 0') == {
        "pension_business_gauge"}


def test_alert_rules_select_only_metrics_the_services_expose() -> None:
    known = exposed_metrics()
    for rule in alert_rules():
        names = metric_names(rule["expr"])
        assert names, rule["alert"]
        assert names <= known, (rule["alert"], names - known)


def test_dashboard_panels_select_only_metrics_the_services_expose() -> None:
    known = exposed_metrics()
    exprs = dashboard_exprs()
    assert len(exprs) >= 20
    for title, expr in exprs:
        names = metric_names(expr)
        assert names, title
        assert names <= known, (title, names - known)


async def test_business_figures_named_in_rules_and_dashboard_are_ones_a_store_reports() -> None:
    reported = await reported_business_names()
    assert {"obligation_overdue_outstanding_fen", "remittances_overdue_fen"} <= reported
    used = {name for rule in alert_rules() for name in business_names(rule["expr"])}
    used |= {name for _, expr in dashboard_exprs() for name in business_names(expr)}
    assert used
    assert used <= reported, used - reported


@pytest.mark.parametrize("area", [
    "pension_records_consumed_total", "pension_batch_duration_seconds_bucket",
    "pension_consumer_lag_records", "pension_dead_letters_total",
    "pension_outbox_backlog_events", "pension_outbox_set_aside_rows",
    "pension_outbox_oldest_unpublished_seconds", "pension_business_gauge",
    "pension_consumer_running", "up",
])
def test_the_dashboard_has_a_panel_for_each_area(area: str) -> None:
    assert any(area in metric_names(expr) for _, expr in dashboard_exprs())


def test_dead_letters_are_shown_by_reason_and_business_figures_by_fiscal_entity() -> None:
    exprs = [expr for _, expr in dashboard_exprs()]
    assert any("pension_dead_letters_total" in e and "reason" in e for e in exprs)
    business = [e for e in exprs if "pension_business_gauge" in e]
    assert business
    assert all("by (fiscal_entity_code)" in e for e in business)


def test_every_dashboard_panel_is_placed_once_and_queries_the_chosen_prometheus() -> None:
    panels = dashboard_panels()
    ids = [panel["id"] for panel in panels]
    assert len(ids) == len(set(ids))
    for panel in panels:
        assert set(panel["gridPos"]) == {"h", "w", "x", "y"}
        assert panel["gridPos"]["x"] + panel["gridPos"]["w"] <= 24
        if panel["type"] != "row":
            assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
            assert [t["refId"] for t in panel["targets"]] == [
                chr(65 + i) for i in range(len(panel["targets"]))]


def test_every_alert_has_a_severity_summary_and_description() -> None:
    rules = alert_rules()
    assert {rule["alert"] for rule in rules} >= {
        "PensionServiceDown", "PensionConsumerHalted", "PensionConsumerLagGrowing",
        "PensionDeadLetters", "PensionOutboxRowsSetAside", "PensionOutboxEventsOld",
        "PensionSubsidyShortfall", "PensionRemittanceOverdue",
    }
    for rule in rules:
        assert rule["labels"]["severity"] in {"critical", "warning"}, rule["alert"]
        assert rule["annotations"]["summary"], rule["alert"]
        assert rule["annotations"]["description"], rule["alert"]


def test_the_scrape_example_reaches_each_service_on_its_default_port() -> None:
    config = yaml.safe_load(SCRAPE.read_text(encoding="utf-8"))
    [job] = config["scrape_configs"]
    assert job["job_name"] == "pension-streams"
    assert config["rule_files"] == ["alerts.yml"]
    targets = {entry["labels"]["service"]: entry["targets"] for entry in job["static_configs"]}
    for service in SERVICE_NAMES:
        port = importlib.import_module(f"services.{service}.app").spec().http_port_default
        assert targets[service] == [f"127.0.0.1:{port}"]
