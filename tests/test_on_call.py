"""The on-call chain as the program declares it in PagerDuty (under mocks), read against the
people in Pulumi.prod.yaml and PagerDuty's own semantics:

* an escalation rule's ``escalation_delay_in_minutes`` is how long an unacknowledged incident
  stays at that rule before moving to the next (PagerDuty "Escalation Policies");
* a schedule layer puts ``users[k mod n]`` on call from ``rotation_virtual_start + k * turn``
  (PagerDuty "Schedule basics", terraform-provider-pagerduty resource_pagerduty_schedule.go).
"""

from __future__ import annotations

import datetime as dt

import pytest
import yaml

from conftest import ROOT
from offline import engine as offline

PD = "pagerduty:index/"
PEOPLE = yaml.safe_load((ROOT / "Pulumi.prod.yaml").read_text())["config"]["trading-platform:onCall"]


def by_id(result, type_token: str) -> dict[str, offline.Registration]:
    """Registrations of a type by the id the mock engine gives them (``<name>-id``)."""
    return {f"{r.name}-id": r for r in result.of_type(PD + type_token)}


def user_ids(prod) -> dict[str, str]:
    """email -> id of the declared PagerDuty user."""
    return {r.inputs["email"]: rid for rid, r in by_id(prod, "user:User").items()}


def on_call_at(layer: dict, when: dt.datetime) -> str:
    start = dt.datetime.fromisoformat(layer["rotationVirtualStart"])
    turn = int((when - start).total_seconds() // layer["rotationTurnLengthSeconds"])
    return layer["users"][turn % len(layer["users"])]


def test_levels_reach_primary_at_once_secondary_at_15_and_the_incident_lead_at_30_minutes(prod):
    [policy] = prod.of_type(PD + "escalationPolicy:EscalationPolicy")
    schedules = by_id(prod, "schedule:Schedule")
    users = user_ids(prod)
    reached, minute = [], 0
    for rule in policy.inputs["rules"]:
        [target] = rule["targets"]
        if target["type"] == "schedule_reference":
            reached.append((minute, schedules[target["id"]].inputs["name"]))
        else:
            assert target["type"] == "user_reference"
            reached.append((minute, {v: k for k, v in users.items()}[target["id"]]))
        minute += rule["escalationDelayInMinutes"]
    assert reached == [
        (0, "trading-prod primary on-call"),
        (15, "trading-prod secondary on-call"),
        (30, PEOPLE["incidentLead"]["email"]),
    ]
    assert minute >= 60 and policy.inputs["numLoops"] >= 1  # nobody for an hour: start again


def test_the_secondary_is_the_next_person_in_the_rotation_on_every_shift(prod):
    schedules = {r.inputs["name"]: r.inputs for r in prod.of_type(PD + "schedule:Schedule")}
    primary, secondary = (schedules[f"trading-prod {n} on-call"]["layers"][0] for n in ("primary", "secondary"))
    ids = user_ids(prod)
    rotation = [ids[p["email"]] for p in PEOPLE["rotation"]]
    handover = dt.datetime.fromisoformat(PEOPLE["handover"])
    for layer in (primary, secondary):
        assert layer["start"] == PEOPLE["handover"] and layer["rotationVirtualStart"] == PEOPLE["handover"]
        assert layer["rotationTurnLengthSeconds"] == PEOPLE["rotationDays"] * 86400
    for shift in range(2 * len(rotation)):
        when = handover + dt.timedelta(days=PEOPLE["rotationDays"] * shift, hours=1)
        assert on_call_at(primary, when) == rotation[shift % len(rotation)]
        assert on_call_at(secondary, when) == rotation[(shift + 1) % len(rotation)]
    assert all(s["timeZone"] == PEOPLE["timeZone"] for s in schedules.values())


@pytest.mark.parametrize("person", [*PEOPLE["rotation"], PEOPLE["incidentLead"]], ids=lambda p: p["email"])
def test_every_person_gets_an_sms_at_once_then_a_call(prod, person):
    [user] = [r for r in prod.of_type(PD + "user:User") if r.inputs["email"] == person["email"]]
    uid = f"{user.name}-id"
    assert user.inputs["name"] == person["name"] and user.inputs["timeZone"] == PEOPLE["timeZone"]
    methods = {rid: r.inputs for rid, r in by_id(prod, "userContactMethod:UserContactMethod").items()}
    country, number = person["phone"].lstrip("+").split(" ")
    mine = {rid: m for rid, m in methods.items() if m["userId"] == uid}
    assert {m["type"] for m in mine.values()} == {"sms_contact_method", "phone_contact_method"}
    assert all(m["countryCode"] == int(country) and m["address"] == number for m in mine.values())
    rules = [
        r.inputs for r in prod.of_type(PD + "userNotificationRule:UserNotificationRule") if r.inputs["userId"] == uid
    ]
    when = {mine[r["contactMethod"]["id"]]["type"]: r["startDelayInMinutes"] for r in rules}
    assert when == {"sms_contact_method": 0, "phone_contact_method": 5}
    assert all(
        r["urgency"] == "high" and r["contactMethod"]["type"] == mine[r["contactMethod"]["id"]]["type"] for r in rules
    )


def test_alertmanager_sends_to_the_declared_integration_as_a_secret(prod, rendered_configs):
    [service] = prod.of_type(PD + "service:Service")
    [policy_id] = by_id(prod, "escalationPolicy:EscalationPolicy")
    assert service.inputs["escalationPolicy"] == policy_id
    integrations = prod.of_type(PD + "serviceIntegration:ServiceIntegration")
    assert {i.inputs["type"] for i in integrations} == {"events_api_v2_inbound_integration"}
    assert all(i.inputs["service"] == f"{service.name}-id" for i in integrations)
    assert len(integrations) == 2  # Alertmanager, and the external dead man's switch
    # The provider's schema does not mark integration_key sensitive: the state must still encrypt it.
    assert all("integrationKey" in i.additional_secret_outputs for i in integrations)
    # The key the mocked PagerDuty issued is what the rendered Alertmanager configuration holds.
    config = yaml.safe_load(rendered_configs["prod"].read_text())
    [receiver] = [r for r in config["receivers"] if r["name"] == "pagerduty"]
    assert receiver["pagerduty_configs"][0]["routing_key"] == offline.PAGERDUTY_INTEGRATION_KEY
    # The key never appears in plaintext in the state: the Secret's data is a Pulumi secret.
    [secret] = [
        s.inputs["stringData"]
        for s in prod.of_type("kubernetes:core/v1:Secret")
        if "alertmanager.yaml" in (offline.unwrap(s.inputs.get("stringData")) or {})
    ]
    assert offline.is_secret(secret) or offline.is_secret(secret["alertmanager.yaml"])


def test_the_hand_wired_switch_integration_and_its_service_are_protected_in_prod(prod, renders):
    for token in ("service:Service", "serviceIntegration:ServiceIntegration"):
        assert all(r.protect for r in prod.of_type(PD + token)), token
    dev = renders["dev"]
    assert not [r for r in dev.resources if r.type.startswith("pagerduty:")]  # dev pages nobody
    assert '"pagerduty"' not in str(dev.outputs)
