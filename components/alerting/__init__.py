"""Alerting: the rules deployed as PrometheusRules, and the routing and escalation."""
