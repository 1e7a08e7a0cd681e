"""The on-call chain in PagerDuty (spec 003, "Escalation Chain"), declared by the stack.

    level 1  primary on-call (the person on shift)        at once
    level 2  secondary on-call (the next one in rotation) after 15 minutes unacknowledged
    level 3  incident lead                                after 30 minutes unacknowledged

The spec's "PagerDuty incident at 30 minutes" becomes the third level: the incident exists from
the first second, which is what makes acknowledgement real (Alertmanager has none,
alertmanager#686 and #2150).  Every person is reached by SMS at once and by a phone call after
five minutes.  Alertmanager sends to the service's Events API v2 integration, whose key flows
into its configuration as a Pulumi secret; a second integration receives the external dead man's
switch (PagerDuty offers none of its own).
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_pagerduty as pagerduty

from components.config.model import OnCallConfig, OnCallPerson

# Minutes before an unacknowledged incident moves to the next level (the spec's 15 and 30
# minutes, counted from the start); the last level's delay is how long the incident lead has
# before the chain starts again at the primary.
ESCALATION_DELAYS = {"primary": 15, "secondary": 15, "incident-lead": 30}
# One more pass through the chain after the incident lead: nobody answering for an hour is
# itself an incident, and the primary's phone rings again.
ESCALATION_LOOPS = 1
# What each person's phone does for a high-urgency incident (minutes after it reaches them).
NOTIFY = {"sms_contact_method": 0, "phone_contact_method": 5}
# An acknowledged incident that is still open an hour later notifies again: an ack is a
# promise to work on it, and a forgotten one must not hide a live fault for the rest of the day.
ACKNOWLEDGEMENT_TIMEOUT_SECONDS = "3600"


@dataclass(frozen=True)
class OnCallArgs:
    prefix: str
    on_call: OnCallConfig
    protect: bool  # the dead man's switch holds its integration key by hand: never replace it silently


class OnCall(pulumi.ComponentResource):
    def __init__(self, name: str, args: OnCallArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("trading:alerting:OnCall", name, None, opts)
        cfg = args.on_call
        child = pulumi.ResourceOptions(parent=self)
        kept = pulumi.ResourceOptions(parent=self, protect=args.protect)

        people = {p.email: p for p in (*cfg.rotation, cfg.incident_lead)}
        self.users = {email: self._person(name, p, cfg.time_zone, child) for email, p in people.items()}
        rotation = [self.users[p.email].id for p in cfg.rotation]

        self.primary_schedule = self._schedule(f"{name}-primary", f"{args.prefix} primary on-call", rotation, cfg)
        # The next person in the rotation: who takes the next shift is also this shift's backup.
        self.secondary_schedule = self._schedule(
            f"{name}-secondary", f"{args.prefix} secondary on-call", rotation[1:] + rotation[:1], cfg
        )
        targets = {
            "primary": ("schedule_reference", self.primary_schedule.id),
            "secondary": ("schedule_reference", self.secondary_schedule.id),
            "incident-lead": ("user_reference", self.users[cfg.incident_lead.email].id),
        }
        self.escalation_policy = pagerduty.EscalationPolicy(
            f"{name}-escalation-policy",
            name=f"{args.prefix} trading platform",
            description="Primary at once, secondary after 15 minutes, incident lead after 30 (spec 003).",
            num_loops=ESCALATION_LOOPS,
            rules=[
                pagerduty.EscalationPolicyRuleArgs(
                    escalation_delay_in_minutes=ESCALATION_DELAYS[level],
                    targets=[pagerduty.EscalationPolicyRuleTargetArgs(type=kind, id=target)],
                )
                for level, (kind, target) in targets.items()
            ],
            opts=child,
        )
        self.service = pagerduty.Service(
            f"{name}-service",
            name=f"{args.prefix} trading platform",
            description="Critical alerts of the trading platform (Alertmanager) and its dead man's switch.",
            escalation_policy=self.escalation_policy.id,
            acknowledgement_timeout=ACKNOWLEDGEMENT_TIMEOUT_SECONDS,
            auto_resolve_timeout="null",  # Alertmanager resolves; a live fault never times out
            incident_urgency_rule=pagerduty.ServiceIncidentUrgencyRuleArgs(type="constant", urgency="high"),
            opts=kept,
        )
        self.alertmanager_integration = self._events_integration(f"{name}-alertmanager", "Alertmanager", kept)
        self.dead_mans_switch_integration = self._events_integration(
            f"{name}-dead-mans-switch", "Dead man's switch (Watchdog heartbeat)", kept
        )
        self.routing_key: pulumi.Output[str] = pulumi.Output.secret(self.alertmanager_integration.integration_key)
        self.service_url: pulumi.Output[str] = self.service.html_url
        self.register_outputs({"escalation_policy_id": self.escalation_policy.id, "service_url": self.service_url})

    def _events_integration(
        self, resource: str, title: str, opts: pulumi.ResourceOptions
    ) -> pagerduty.ServiceIntegration:
        """An Events API v2 integration of the service: its key is what a sender routes with."""
        # The provider does not mark the key sensitive: keep it a secret in the state too.
        secret_key = pulumi.ResourceOptions(additional_secret_outputs=["integration_key"])
        return pagerduty.ServiceIntegration(
            resource,
            name=title,
            service=self.service.id,
            type="events_api_v2_inbound_integration",
            opts=pulumi.ResourceOptions.merge(opts, secret_key),
        )

    def _person(self, name: str, person: OnCallPerson, time_zone: str, child: pulumi.ResourceOptions) -> pagerduty.User:
        key = person.email.split("@")[0]
        user = pagerduty.User(
            f"{name}-user-{key}",
            name=person.name,
            email=person.email,
            # PagerDuty's Manager role: on-call engineers add their own schedule overrides to hand over.
            role="user",
            time_zone=time_zone,
            opts=child,
        )
        for kind, delay in NOTIFY.items():
            method = pagerduty.UserContactMethod(
                f"{name}-user-{key}-{kind.split('_')[0]}",
                user_id=user.id,
                type=kind,
                country_code=person.phone.country_code,
                address=person.phone.number,
                label="Mobile (trading-platform stack)",
                opts=child,
            )
            pagerduty.UserNotificationRule(
                f"{name}-user-{key}-{kind.split('_')[0]}-rule",
                user_id=user.id,
                start_delay_in_minutes=delay,
                urgency="high",
                contact_method=pagerduty.UserNotificationRuleContactMethodArgs(id=method.id, type=kind),
                opts=child,
            )
        return user

    def _schedule(
        self, resource: str, title: str, users: list[pulumi.Output[str]], cfg: OnCallConfig
    ) -> pagerduty.Schedule:
        return pagerduty.Schedule(
            resource,
            name=title,
            time_zone=cfg.time_zone,
            layers=[
                pagerduty.ScheduleLayerArgs(
                    name="weekly rotation" if cfg.rotation_days == 7 else f"{cfg.rotation_days}-day rotation",
                    start=cfg.handover,
                    rotation_virtual_start=cfg.handover,
                    rotation_turn_length_seconds=cfg.rotation_days * 86400,
                    users=users,
                )
            ],
            opts=pulumi.ResourceOptions(parent=self),
        )
