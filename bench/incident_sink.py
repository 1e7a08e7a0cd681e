"""A local stand-in for PagerDuty's Events API v2, Slack's incoming webhook and the dead man's
switch, for a real Alertmanager to send to (127.0.0.1, a free port).

PagerDuty's side follows its Events API v2 reference (developer.pagerduty.com, "Events API v2
Overview", "Send an Alert Event"): POST /v2/enqueue with ``routing_key`` (32 characters),
``event_action`` trigger|acknowledge|resolve, ``dedup_key`` (at most 255 characters) and, for a
trigger, ``payload`` with ``summary`` (at most 1024 characters), ``source`` and ``severity``
(critical|error|warning|info); every ``links`` entry needs an ``href``.  A valid event is
answered 202 ``{"status": "success", "dedup_key": ...}``, an invalid one 400.  Incidents
behave as PagerDuty documents alert de-duplication: a trigger whose dedup key has an open
(triggered or acknowledged) incident joins it; otherwise it opens a new one; a resolve closes
the open one.  ``acknowledge()`` is the on-call pressing Acknowledge in PagerDuty.

Slack's side: a JSON body with ``text`` or ``attachments``, answered 200 ``ok``.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

SEVERITIES = {"critical", "error", "warning", "info"}


@dataclass
class Incident:
    dedup_key: str
    summary: str
    opened_at: float
    status: str = "triggered"  # triggered | acknowledged | resolved
    triggers: int = 1


@dataclass
class Received:
    path: str
    at: float
    body: dict[str, Any]


@dataclass
class Sink:
    received: list[Received] = field(default_factory=list)
    incidents: list[Incident] = field(default_factory=list)
    refused: list[tuple[dict[str, Any], list[str]]] = field(default_factory=list)
    lock: threading.RLock = field(default_factory=threading.RLock)

    # ---- PagerDuty -----------------------------------------------------------------------
    def pagerduty_errors(self, event: dict[str, Any]) -> list[str]:
        errors = []
        if len(str(event.get("routing_key", ""))) != 32:
            errors.append("routing_key must be 32 characters")
        action = event.get("event_action")
        if action not in ("trigger", "acknowledge", "resolve"):
            errors.append("event_action must be trigger, acknowledge or resolve")
        key = event.get("dedup_key")
        if action != "trigger" and not key:
            errors.append("dedup_key is required for acknowledge and resolve")
        if key is not None and len(str(key)) > 255:
            errors.append("dedup_key is longer than 255 characters")
        if action == "trigger":
            payload = event.get("payload") or {}
            if not payload.get("summary") or len(payload["summary"]) > 1024:
                errors.append("payload.summary is required, at most 1024 characters")
            if not payload.get("source"):
                errors.append("payload.source is required")
            if payload.get("severity") not in SEVERITIES:
                errors.append("payload.severity must be critical, error, warning or info")
        for link in event.get("links") or []:
            if not link.get("href"):
                errors.append("links[].href is required")
        return errors

    def open_incident(self, key: str) -> Incident | None:
        return next((i for i in self.incidents if i.dedup_key == key and i.status != "resolved"), None)

    def pagerduty_event(self, event: dict[str, Any]) -> None:
        # PagerDuty makes up a key for a trigger without one: every such trigger is a new incident.
        key, action = event.get("dedup_key") or f"generated-{len(self.incidents)}", event["event_action"]
        current = self.open_incident(key)
        if action == "trigger":
            if current is not None:
                current.triggers += 1
            else:
                self.incidents.append(Incident(key, event["payload"]["summary"], time.monotonic()))
        elif action == "resolve" and current is not None:
            current.status = "resolved"
        elif action == "acknowledge" and current is not None:
            current.status = "acknowledged"

    def acknowledge(self, key: str) -> None:
        """The on-call acknowledges in PagerDuty (web, app or by answering the SMS)."""
        with self.lock:
            incident = self.open_incident(key)
            assert incident is not None, f"no open incident for {key}"
            incident.status = "acknowledged"

    # ---- queries -------------------------------------------------------------------------
    def events(self, path: str) -> list[Received]:
        with self.lock:
            return [r for r in self.received if r.path == path]

    def pagerduty_events(self, **labels: str) -> list[dict[str, Any]]:
        """Events whose details carry every given label (``details.labels`` as the route renders it)."""
        wanted = [f"{k}={v} " for k, v in labels.items()]
        found = []
        for r in self.events("/v2/enqueue"):
            text = str((r.body.get("payload") or {}).get("custom_details", {}).get("labels", ""))
            if all(w in text for w in wanted):
                found.append(r.body)
        return found

    def slack_messages(self, alertname: str, mentioning: str = "") -> list[dict[str, Any]]:
        """Messages about ``alertname`` whose text mentions ``mentioning``."""
        return [
            r.body
            for r in self.events("/slack")
            if any(
                a.get("title", "").endswith(f" {alertname}") and mentioning in a.get("text", "")
                for a in r.body.get("attachments", [])
            )
        ]

    def wait_for(self, condition: Any, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if condition():
                    return
            time.sleep(0.05)
        raise AssertionError(f"not met within {timeout}s: {condition}")


def pointed_at(config: dict[str, Any], hook: str) -> dict[str, Any]:
    """An Alertmanager configuration with every destination pointed at the sink served at
    ``hook``: Slack, the dead man's switch (webhooks) and PagerDuty's Events API."""
    for receiver in config["receivers"]:
        for slack in receiver.get("slack_configs", []):
            slack["api_url"] = f"{hook}/slack"
        for webhook in receiver.get("webhook_configs", []):
            webhook["url"] = f"{hook}/heartbeat"
        for pagerduty in receiver.get("pagerduty_configs", []):
            pagerduty["url"] = f"{hook}/v2/enqueue"
    return config


def serve(sink: Sink) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
            status, reply = 200, b"ok"
            with sink.lock:
                if self.path == "/v2/enqueue":
                    errors = sink.pagerduty_errors(body)
                    if errors:
                        sink.refused.append((body, errors))
                        status, reply = 400, json.dumps({"status": "invalid event", "errors": errors}).encode()
                    else:
                        sink.pagerduty_event(body)
                        status = 202
                        reply = json.dumps({"status": "success", "dedup_key": body.get("dedup_key")}).encode()
                elif self.path == "/slack" and not (body.get("text") or body.get("attachments")):
                    status, reply = 400, b"no_text"
                if status < 300:
                    sink.received.append(Received(self.path, time.monotonic(), body))
            self.send_response(status)
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server
