"""The live fault rehearsal (bench/rehearsal.py) on the prod render: real Prometheus,
Alertmanager, node-exporter, PostgreSQL with postgres-exporter and blackbox exporter on
127.0.0.1; every fault of issue 15 injected at once, each recovered once delivered.

This asserts delivery and resolution only; the timings are the benchmark's to print
(`venv/bin/python -m bench.rehearsal`), never asserted here.  It takes about 10 minutes."""

from __future__ import annotations

import pytest

from bench import rehearsal
from bench.rehearsal_faults import receivers_ok, table
from offline import render


@pytest.fixture(scope="module")
def outcome(renders, tmp_path_factory):
    build = tmp_path_factory.mktemp("rehearsal") / "prod"
    render.write(renders["prod"], build)
    return rehearsal.run(renders["prod"], build)


def test_every_fault_reaches_the_receivers_the_spec_names(outcome):
    """Critical: a PagerDuty incident and Slack; warning: Slack and never PagerDuty."""
    missing = [a.alert for a in outcome.alerts if not receivers_ok(a)]
    assert not missing, f"not delivered as the spec says: {missing}\n{table(outcome)}"
    assert outcome.refused == 0, "the PagerDuty Events API would have refused an event"


def test_every_recovery_resolves_in_alertmanager_and_closes_the_incident(outcome):
    unresolved = [a.alert for a in outcome.alerts if a.resolved is None]
    open_incidents = [a.alert for a in outcome.alerts if a.severity == "critical" and a.pagerduty_resolved is None]
    assert not unresolved and not open_incidents, table(outcome)
    for fault in outcome.faults:
        assert fault.recovered_at is not None
        assert all(a.resolved is not None and a.resolved > fault.recovered_at for a in fault.alerts), fault.name


def test_nothing_else_pages_and_the_dead_mans_switch_beats(outcome):
    """A healthy platform around the faults: no notification for an alert no fault explains."""
    assert not outcome.unexpected, table(outcome)
    assert outcome.heartbeats >= 5
