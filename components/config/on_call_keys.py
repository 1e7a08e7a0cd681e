"""Validation of ``onCall``: the people PagerDuty pages, their rotation and the incident lead.

The limits are PagerDuty's, as its Terraform provider (which ``pulumi-pagerduty`` bridges)
enforces them, PagerDuty/terraform-provider-pagerduty at 95cf9d8:

* ``pagerdutyplugin/resource_pagerduty_user_contact_method.go`` ValidateConfig: a phone number
  is digits only (``,*#`` aside), at most 40 characters, without the trunk prefix for the
  countries listed in ``TRUNK_PREFIX`` (PagerDuty would dial it after the country code);
* ``pagerduty/resource_pagerduty_schedule.go``: ``rotation_turn_length_seconds`` from 3600 to
  365 days, ``start`` and ``rotation_virtual_start`` RFC 3339, ``time_zone`` an IANA zone
  (``util.ValidateTZValueDiagFunc``).
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from typing import Any

from components.config.model import OnCallConfig, OnCallPerson, Phone
from components.config.reader import Reader, is_email

ON_CALL_FIELDS = ("timeZone", "handover", "rotationDays", "rotation", "incidentLead")
PERSON_FIELDS = ("name", "email", "phone")
PHONE_RE = re.compile(r"^\+([1-9][0-9]{0,2}) ([0-9]{4,14})$")
# Country calling code -> the trunk prefix PagerDuty refuses in the national number.
TRUNK_PREFIX = {33: "0", 40: "0", 44: "0", 45: "0", 49: "0", 61: "0", 66: "0", 91: "0", 1: "1"}
MAX_ROTATION_DAYS = 365
SHAPE = "an object {timeZone, handover, rotationDays, rotation: [person, ...], incidentLead: person}"
PERSON = "an object {name, email, phone}"
# Returned beside recorded problems, which refuse the stack before anything reads it.
UNREADABLE = OnCallConfig("UTC", "", 1, (), OnCallPerson("", "", Phone(0, "")))


def phone(r: Reader, at: str, value: Any) -> Phone | None:
    shape = "'+<country code> <national number>', digits only, e.g. '+33 612345678'"
    match = PHONE_RE.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        r.fail(at, value, shape)
        return None
    country, number = int(match[1]), match[2]
    prefix = TRUNK_PREFIX.get(country)
    if prefix is not None and number.startswith(prefix):
        r.fail(at, value, f"the national number without its trunk prefix '{prefix}' (PagerDuty dials it as written)")
        return None
    return Phone(country, number)


def person(r: Reader, at: str, item: Any) -> OnCallPerson | None:
    if not isinstance(item, dict):
        r.fail(at, item, PERSON)
        return None
    r.unknown_fields(at, item, PERSON_FIELDS, "a person")
    name, email = item.get("name"), item.get("email")
    ok = True
    if not isinstance(name, str) or not name.strip() or name != name.strip():
        r.fail(f"{at}.name", name, "the person's name as PagerDuty shows it, with no leading or trailing spaces")
        ok = False
    if not isinstance(email, str) or not is_email(email):
        r.fail(f"{at}.email", email, "the e-mail address of the person's PagerDuty login")
        ok = False
    number = phone(r, f"{at}.phone", item.get("phone"))
    if not ok or number is None:
        return None
    return OnCallPerson(str(name), str(email).lower(), number)


def _handover(r: Reader, value: Any) -> str:
    allowed = "an RFC 3339 time with its UTC offset, e.g. 2026-12-07T09:00:00+01:00 (a shift starts then)"
    try:
        parsed = dt.datetime.fromisoformat(value) if isinstance(value, str) and "T" in value else None
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        r.fail("onCall.handover", value, allowed)
        return ""
    return str(value)


def on_call(r: Reader, protected: bool) -> OnCallConfig | None:
    """None when the stack pages nobody (criticals then reach Slack only): allowed only in a
    stack that is not protected, since a protected stack is one whose outage costs money."""
    if r.raw.get("onCall") in (None, "null"):
        if protected:
            r.fail("onCall", None, f"{SHAPE}: a protected stack pages its on-call through PagerDuty")
        return None
    raw = r.structured("onCall", dict, SHAPE)
    if not raw:
        return UNREADABLE
    r.unknown_fields("onCall", raw, ON_CALL_FIELDS, "onCall")
    zone = raw.get("timeZone")
    if not isinstance(zone, str) or zone not in zoneinfo.available_timezones():
        r.fail("onCall.timeZone", zone, "an IANA time zone such as Europe/Paris (handover times are local to it)")
    handover = _handover(r, raw.get("handover"))
    days = raw.get("rotationDays")
    if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= MAX_ROTATION_DAYS:
        r.fail("onCall.rotationDays", days, f"the length of a shift in whole days, from 1 to {MAX_ROTATION_DAYS}")
    items = raw.get("rotation")
    if not isinstance(items, list) or len(items) < 2:
        r.fail("onCall.rotation", items, f"a list of at least two people ({PERSON}): the secondary is the next one")
        items = []
    people = [person(r, f"onCall.rotation[{i}]", item) for i, item in enumerate(items)]
    seen: dict[str, int] = {}
    for i, p in enumerate(people):
        if p is not None and p.email in seen:
            r.fail(f"onCall.rotation[{i}].email", p.email, f"each person once: rotation[{seen[p.email]}] has it")
        elif p is not None:
            seen[p.email] = i
    lead = person(r, "onCall.incidentLead", raw.get("incidentLead"))
    complete = [p for p in people if p is not None]
    if lead is None or len(complete) != len(people) or not handover or len(complete) < 2:
        return UNREADABLE
    return OnCallConfig(str(zone), handover, int(days or 1), tuple(complete), lead)
