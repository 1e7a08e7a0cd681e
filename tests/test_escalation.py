"""The escalation chain end to end with real parts: a real Alertmanager on the rendered prod
configuration (timers divided by 20: a minute is 3 seconds) sending to a stand-in that speaks
PagerDuty's Events API v2 and Slack's webhook (bench/incident_sink.py).

What happens after the trigger (SMS, call, secondary, incident lead) is PagerDuty's escalation
policy, declared by the stack and tested under mocks in tests/test_on_call.py.  Each scenario
uses its own node label, so the scenarios never share an aggregation group.
"""

from __future__ import annotations

import time

from alertmanager_replica import MINUTE


def critical(node: str, alertname: str = "NodeDown") -> dict[str, str]:
    return {"alertname": alertname, "severity": "critical", "node": node, "runbook": "NODE_DOWN"}


def incidents(sink, node: str) -> list:
    keys = {e["dedup_key"] for e in sink.pagerduty_events(node=node)}
    return [i for i in sink.incidents if i.dedup_key in keys]


def actions(sink, node: str) -> list[str]:
    return [e["event_action"] for e in sink.pagerduty_events(node=node)]


def test_a_critical_never_acknowledged_is_one_incident_then_resolved(sink, start):
    events, _ = sink
    am = start()
    am.post(critical("never-acked"))
    events.wait_for(lambda: actions(events, "never-acked") == ["trigger"], timeout=MINUTE)  # within "10s"
    events.wait_for(lambda: len(events.slack_messages("NodeDown", "on never-acked")) == 1)
    [message] = events.slack_messages("NodeDown", "on never-acked")
    assert "Incident in PagerDuty" in message["attachments"][0]["text"]
    time.sleep(3 * MINUTE)  # three more "minutes" of firing: nothing new to PagerDuty
    assert actions(events, "never-acked") == ["trigger"]
    am.post(critical("never-acked"), resolved=True)
    events.wait_for(lambda: actions(events, "never-acked") == ["trigger", "resolve"], timeout=2 * MINUTE)
    [incident] = incidents(events, "never-acked")
    assert incident.status == "resolved"
    assert not events.refused, events.refused  # every event was one PagerDuty accepts


def test_two_nodes_down_are_two_incidents(sink, start):
    events, _ = sink
    am = start()
    am.post(critical("pair-1"), critical("pair-2"))
    events.wait_for(lambda: len(incidents(events, "pair-1")) == 1 and len(incidents(events, "pair-2")) == 1)
    assert incidents(events, "pair-1")[0].dedup_key != incidents(events, "pair-2")[0].dedup_key
    # A third alert joining later is its own incident at once, not the next group_interval of a group.
    am.post(critical("pair-3"))
    events.wait_for(lambda: len(incidents(events, "pair-3")) == 1, timeout=MINUTE)


def test_acknowledged_in_pagerduty_nothing_new_is_sent_and_the_resolve_still_arrives(sink, start):
    events, _ = sink
    am = start()
    am.post(critical("acked"))
    events.wait_for(lambda: len(incidents(events, "acked")) == 1)
    [incident] = incidents(events, "acked")
    events.acknowledge(incident.dedup_key)
    events.wait_for(lambda: len(events.slack_messages("NodeDown", "on acked")) == 1)
    time.sleep(4 * MINUTE)
    assert actions(events, "acked") == ["trigger"] and incident.status == "acknowledged"
    assert len(events.slack_messages("NodeDown", "on acked")) == 1
    am.post(critical("acked"), resolved=True)
    events.wait_for(lambda: incident.status == "resolved", timeout=2 * MINUTE)


def test_a_flap_within_a_minute_is_absorbed_and_a_recurrence_is_a_new_incident(sink, start):
    events, _ = sink
    am = start()
    am.post(critical("flappy"))
    events.wait_for(lambda: actions(events, "flappy") == ["trigger"])
    am.post(critical("flappy"), resolved=True)
    am.post(critical("flappy"))  # back before the group's next tick: Alertmanager never saw it resolved
    time.sleep(3 * MINUTE)
    assert actions(events, "flappy") == ["trigger"]
    am.post(critical("flappy"), resolved=True)
    events.wait_for(lambda: actions(events, "flappy") == ["trigger", "resolve"], timeout=2 * MINUTE)
    am.post(critical("flappy"))  # a recurrence after the resolve: a new incident, never two open at once
    events.wait_for(lambda: actions(events, "flappy") == ["trigger", "resolve", "trigger"], timeout=2 * MINUTE)
    found = incidents(events, "flappy")
    assert [i.status for i in found] == ["resolved", "triggered"]
    assert found[0].dedup_key == found[1].dedup_key


def test_a_restarted_alertmanager_continues_the_same_incident(sink, start):
    """Alertmanager's pod rescheduled with its state lost (emptyDir): the new process re-sends
    the trigger with the same dedup key, so PagerDuty keeps one incident, and resolves it."""
    events, _ = sink
    first = start("first")
    first.post(critical("restart"))
    events.wait_for(lambda: len(incidents(events, "restart")) == 1)
    first.stop()
    second = start("second")
    second.post(critical("restart"))  # Prometheus re-sends every firing alert to every Alertmanager
    events.wait_for(lambda: actions(events, "restart") == ["trigger", "trigger"])
    [incident] = incidents(events, "restart")
    assert incident.triggers == 2
    second.post(critical("restart"), resolved=True)
    events.wait_for(lambda: incident.status == "resolved", timeout=2 * MINUTE)


def test_both_replicas_sending_open_one_incident(sink, start):
    """Both replicas restarted, their gossiped notification log gone: each sends on its own."""
    events, _ = sink
    replicas = [start("replica-0"), start("replica-1")]
    for am in replicas:
        am.post(critical("replicas"))
    events.wait_for(lambda: actions(events, "replicas") == ["trigger", "trigger"])
    assert len(incidents(events, "replicas")) == 1
    for am in replicas:
        am.post(critical("replicas"), resolved=True)
    events.wait_for(lambda: incidents(events, "replicas")[0].status == "resolved", timeout=2 * MINUTE)


def test_the_watchdog_reaches_the_dead_mans_switch_every_minute(sink, start):
    events, _ = sink
    am = start()
    am.post({"alertname": "Watchdog", "severity": "none"})
    events.wait_for(lambda: len(events.events("/heartbeat")) >= 1, timeout=MINUTE)
    time.sleep(6 * MINUTE)
    arrivals = [e.at for e in events.events("/heartbeat")]
    gaps = [b - a for a, b in zip(arrivals, arrivals[1:], strict=False)]
    # Every minute (not every second minute): the switch's timeout is set a few minutes above it.
    assert len(arrivals) >= 6 and max(gaps) < 1.5 * MINUTE, [round(g / MINUTE, 2) for g in gaps]
    assert not events.pagerduty_events(alertname="Watchdog")


def test_warnings_reach_slack_info_nobody_and_an_unknown_severity_still_reaches_people(sink, start, prod):
    events, _ = sink
    am = start()
    [drift] = [r for g in prod.of_type("grafana:alerting/ruleGroup:RuleGroup") for r in g.inputs["rules"]]
    # Grafana adds alertname and grafana_folder to what it sends an external Alertmanager.
    am.post(
        {"alertname": "NodeCPUSaturated", "severity": "warning", "node": "w", "instance": "w"},
        {"alertname": "ComputeScaleUp", "severity": "info", "node": "i"},
        {"alertname": "SomethingNew", "severity": "page-me-maybe", "node": "u"},
        {"alertname": "NoSeverityAtAll", "node": "n"},
        {"alertname": drift["name"], "grafana_folder": "Trading platform", **drift["labels"]},
    )
    for name in ("NodeCPUSaturated", "SomethingNew", "NoSeverityAtAll", drift["name"]):
        events.wait_for(lambda name=name: len(events.slack_messages(name)) == 1, timeout=2 * MINUTE)
    time.sleep(MINUTE)
    assert events.slack_messages("ComputeScaleUp") == []
    for node in ("w", "i", "u", "n"):
        assert events.pagerduty_events(node=node) == []


def test_exporter_down_speaks_for_its_targets(sink, start):
    """The chart's TargetDown (kube-prometheus-stack general.rules: by job, namespace, service,
    severity warning) is muted by ExporterDown of the same job."""
    events, _ = sink
    am = start()
    am.post(
        {"alertname": "ExporterDown", "severity": "warning", "job": "traefik", "runbook": "EXPORTER_DOWN"},
        {"alertname": "TargetDown", "severity": "warning", "job": "traefik", "namespace": "ingress", "service": "t"},
        {"alertname": "TargetDown", "severity": "warning", "job": "loki", "namespace": "monitoring", "service": "l"},
    )
    events.wait_for(lambda: len(events.slack_messages("TargetDown", "on loki")) == 1, timeout=2 * MINUTE)
    events.wait_for(lambda: len(events.slack_messages("ExporterDown", "on traefik")) == 1, timeout=2 * MINUTE)
    time.sleep(MINUTE)
    assert events.slack_messages("TargetDown", "on traefik") == []
