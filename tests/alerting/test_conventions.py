"""Metric names are written once, in alerts/conventions.py (read with ``ast``, not by eye)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import alerts
import streams
from alerts import conventions

ALERTS_DIR = Path(alerts.__file__).parent
STREAMS_DIR = Path(streams.__file__).parent
METRIC = re.compile(r"\bharmwatch_[a-z0-9_]+")


def _docstrings(tree: ast.AST) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                ids.add(id(body[0].value))
    return ids


def _metric_literals(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = _docstrings(tree)
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip:
            found.extend((node.lineno, name) for name in METRIC.findall(node.value))
    return found


def test_no_metric_name_literal_outside_the_conventions_module() -> None:
    sources = [*ALERTS_DIR.glob("*.py"), *STREAMS_DIR.rglob("*.py")]
    offenders = [f"{path.name}:{line}: {name}"
                 for path in sorted(sources) if path.name != "conventions.py"
                 for line, name in _metric_literals(path)]
    assert offenders == []


def test_the_check_sees_a_literal() -> None:
    """The scan above must be able to fail: the conventions module itself is full of them."""
    names = {name for _, name in _metric_literals(ALERTS_DIR / "conventions.py")}
    assert {"harmwatch_signal_value", "harmwatch_alert_state", "harmwatch_consumer_lag"} <= names


def test_counter_names_carry_the_total_suffix_prometheus_stores() -> None:
    assert conventions.EVENTS_TOTAL == "harmwatch_events_total"
    assert conventions.INVALID_EVENTS_TOTAL == "harmwatch_invalid_events_total"
    assert conventions.MERGE_LATE_PANES_TOTAL == "harmwatch_merge_late_panes_total"
