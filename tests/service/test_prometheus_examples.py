"""deploy/prometheus/: the scrape config and the alert rules parse, and every metric an alert
reads is one the daemon exports (laptop_agents/metrics.py), under its exposed name."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from prometheus_client.core import Metric

from laptop_agents.metrics import Metrics

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "prometheus"
SCRAPE_FILE = DEPLOY / "prometheus.yml"
RULES_FILE = DEPLOY / "alerts.yml"

# Labels every series gets from the scrape config, and `symbol`, which the per-symbol metrics
# gain with multi-symbol daemons (the rules must work with and without it).
TARGET_LABELS = {"job", "host", "instance"}
FUTURE_LABELS = {"symbol"}
SEVERITIES = {"warning", "critical"}
PROMQL_KEYWORDS = {"and", "or", "unless", "by", "without", "on", "ignoring", "bool", "offset",
                   "group_left", "group_right", "inf", "nan"}


def _mapping(value: object, where: str) -> dict[str, object]:
    assert isinstance(value, dict), f"{where}: expected a mapping, got {value!r}"
    return {str(key): item for key, item in value.items()}


def _list(value: object, where: str) -> list[object]:
    assert isinstance(value, list), f"{where}: expected a list, got {value!r}"
    return value


def _load(path: Path) -> dict[str, object]:
    return _mapping(yaml.safe_load(path.read_text(encoding="utf-8")), path.name)


def exposed_names(metric: Metric) -> set[str]:
    """The sample names prometheus-client writes for one metric family."""
    name = metric.name
    if metric.type == "counter":
        return {f"{name}_total", f"{name}_created"}
    if metric.type == "histogram":
        return {f"{name}_bucket", f"{name}_sum", f"{name}_count", f"{name}_created"}
    if metric.type == "summary":
        return {name, f"{name}_sum", f"{name}_count", f"{name}_created"}
    return {name}


def daemon_metrics() -> tuple[set[str], set[str]]:
    """Every series name /metrics can carry, and every label name the daemon sets."""
    metrics = Metrics()
    names: set[str] = set()
    for family in metrics.registry.collect():
        names |= exposed_names(family)
    labels: set[str] = set()
    for collector in vars(metrics).values():
        labels.update(getattr(collector, "_labelnames", ()))
    return names, labels


def rules() -> list[dict[str, object]]:
    found: list[dict[str, object]] = []
    for group in _list(_load(RULES_FILE)["groups"], "groups"):
        group_map = _mapping(group, "group")
        for rule in _list(group_map["rules"], f"group {group_map.get('name')}"):
            found.append(_mapping(rule, "rule"))
    return found


def expr_of(rule: dict[str, object]) -> str:
    expr = rule["expr"]
    assert isinstance(expr, str)
    return expr


def metric_names(expr: str) -> set[str]:
    """The series names an expression selects: identifiers that are not functions, keywords,
    label names (in braces or grouping clauses), strings, durations or numbers."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # string literals
    text = re.sub(r"\{[^}]*\}", " ", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", " ", text)  # range and subquery durations
    text = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    names = set()
    for match in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", text):
        word = match.group()
        after = text[match.end():].lstrip()
        if word.lower() in PROMQL_KEYWORDS or after.startswith("("):
            continue
        names.add(word)
    return names


def label_names(expr: str) -> set[str]:
    """Label names used in matchers and in by/without/on/ignoring clauses."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    names: set[str] = set()
    for body in re.findall(r"\{([^}]*)\}", text):
        names.update(re.findall(r"([A-Za-z_][A-Za-z0-9_]*)\s*(?:=~|!~|!=|=)", body))
    for body in re.findall(r"\b(?:by|without|on|ignoring)\s*\(([^)]*)\)", text):
        names.update(name.strip() for name in body.split(",") if name.strip())
    return names


def test_metric_name_extraction() -> None:
    expr = ('max by (job, symbol) (rate(la_ticks_total{job="x", reason!~"mark_.*"}[2m])) == 0 '
            "and on (instance) la_equity_usdt > 0.5 or up == 0")
    assert metric_names(expr) == {"la_ticks_total", "la_equity_usdt", "up"}
    assert label_names(expr) == {"job", "symbol", "reason", "instance"}


def test_exposed_names_follow_prometheus_client_suffixes() -> None:
    names, labels = daemon_metrics()
    assert {"la_ticks_total", "la_ticks_created", "la_loop_lag_seconds",
            "la_watchdog_reaction_seconds_bucket", "la_quotes_rejected_total"} <= names
    assert "la_ticks" not in names  # a counter is only exposed with its suffixes
    assert "reason" in labels


@pytest.mark.parametrize("rule", rules(), ids=lambda rule: str(rule.get("alert")))
def test_alert_rule_is_complete(rule: dict[str, object]) -> None:
    assert isinstance(rule.get("alert"), str) and rule["alert"], rule
    assert expr_of(rule).strip()
    assert isinstance(rule.get("for"), str) and re.fullmatch(r"\d+[smh]", str(rule["for"]))
    labels = _mapping(rule.get("labels"), "labels")
    assert labels.get("severity") in SEVERITIES
    annotations = _mapping(rule.get("annotations"), "annotations")
    assert isinstance(annotations.get("summary"), str) and annotations["summary"]


@pytest.mark.parametrize("rule", rules(), ids=lambda rule: str(rule.get("alert")))
def test_alert_reads_only_exported_metrics(rule: dict[str, object]) -> None:
    names, daemon_labels = daemon_metrics()
    expr = expr_of(rule)
    used = metric_names(expr)
    assert used, f"{rule['alert']}: no metric found in {expr!r}"
    unknown = used - names - {"up"}
    assert not unknown, f"{rule['alert']} reads metrics /metrics does not export: {unknown}"
    strange = label_names(expr) - TARGET_LABELS - FUTURE_LABELS - daemon_labels
    assert not strange, f"{rule['alert']} uses labels no series carries: {strange}"
    assert 'job="laptop-agents"' in expr, "select the daemons' job, as prometheus.yml names it"


def test_the_required_alerts_exist() -> None:
    names = {str(rule["alert"]) for rule in rules()}
    assert len(names) == len(rules()), "alert names are unique"
    for wanted in ("Down", "Restarting", "LoopLag", "FeedDown", "PriceSuspect",
                   "DailyLossCap", "Liquidation"):
        assert f"LaptopAgents{wanted}" in names


def test_scrape_config_names_every_daemon_by_host_and_instance() -> None:
    config = _load(SCRAPE_FILE)
    assert _list(config["rule_files"], "rule_files") == [RULES_FILE.name]
    jobs = [_mapping(job, "scrape config") for job in _list(config["scrape_configs"], "jobs")]
    assert len(jobs) >= 3
    assert len({job["job_name"] for job in jobs}) == len(jobs)
    addresses: list[str] = []
    for job in jobs:
        where = str(job["job_name"])
        assert job.get("metrics_path", "/metrics") == "/metrics"
        # Each daemon has its own token: one job per daemon, the token in a file.
        auth = _mapping(job["authorization"], where)
        assert auth.get("type") == "Bearer" and auth.get("credentials_file"), where
        set_labels = set()
        for step in _list(job["relabel_configs"], where):
            step_map = _mapping(step, where)
            set_labels.add(step_map.get("target_label"))
        assert {"job", "host", "instance"} <= set_labels, where
        for static in _list(job["static_configs"], where):
            static_map = _mapping(static, where)
            addresses += [str(target) for target in _list(static_map["targets"], where)]
            assert _mapping(static_map["labels"], where).get("__la_name"), where
    # Several daemons on one host: each on its own port.
    assert len(set(addresses)) == len(addresses)
    assert len({address.rsplit(":", 1)[0] for address in addresses}) >= 2, "several hosts"
