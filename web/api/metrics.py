"""`GET /metrics`: Prometheus text format, figures read from the database at each scrape."""

from __future__ import annotations

from collections.abc import Iterator

from flask import Blueprint, Response
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from web.api.support import runtime, transaction
from workflow.services.metrics import Figures, read_figures

bp = Blueprint("metrics", __name__)
TRANSITION_EVENTS = frozenset(
    {
        "accept",
        "decline",
        "refer",
        "settle",
        "close_unresolved",
        "extend",
        "acknowledge",
        "return",
        "rule",
        "decide",
        "withdraw",
        "reopen",
    }
)


class DatabaseCollector(Collector):
    def __init__(self, figures: Figures) -> None:
        self.figures = figures

    def collect(self) -> Iterator[Metric]:
        f = self.figures
        transitions = CounterMetricFamily(
            "carnation_transitions", "Transitions committed, by event", labels=["event"]
        )
        actions = CounterMetricFamily(
            "carnation_timeline_events", "Timeline entries, by type", labels=["type"]
        )
        for kind, count in sorted(f.events_by_type.items()):
            (transitions if kind in TRANSITION_EVENTS else actions).add_metric([kind], count)
        yield transitions
        yield actions
        yield GaugeMetricFamily(
            "carnation_outbox_depth", "Outbox rows waiting", value=f.outbox_pending
        )
        yield GaugeMetricFamily(
            "carnation_outbox_oldest_age_seconds",
            "Age of the oldest waiting outbox row",
            value=f.outbox_oldest_age_seconds,
        )
        yield GaugeMetricFamily(
            "carnation_dead_letters", "Outbox rows failed for good", value=f.outbox_dead
        )
        yield GaugeMetricFamily(
            "carnation_task_failures",
            "Outbox rows whose task failed at least once",
            value=f.outbox_failed_attempts,
        )
        yield GaugeMetricFamily(
            "carnation_clocks_running", "Open clocks running", value=f.clocks_running
        )
        yield GaugeMetricFamily(
            "carnation_clocks_breached", "Open clocks past their deadline", value=f.clocks_breached
        )
        yield GaugeMetricFamily(
            "carnation_ladder_steps_due",
            "Ladder steps due and not yet fired",
            value=f.clocks_due_steps,
        )
        escalations = CounterMetricFamily(
            "carnation_escalations", "Ladder steps fired, by step", labels=["step"]
        )
        for step, count in sorted(f.escalations_by_step.items()):
            escalations.add_metric([step], count)
        yield escalations


@bp.get("/metrics")
def metrics() -> Response:
    with transaction() as session:
        figures = read_figures(runtime(), session)
    registry = CollectorRegistry()
    registry.register(DatabaseCollector(figures))
    return Response(generate_latest(registry), mimetype="text/plain; version=0.0.4; charset=utf-8")
