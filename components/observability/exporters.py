"""The exporters the dashboard and the alerts read, the ingress, and TLS certificates.

* PostgreSQL exporter: sessions against ``max_connections`` (DB Connections panel,
  DBConnectionSaturated); password from a Kubernetes Secret, never a Helm value.
* statsd exporter with an Airflow mapping: scheduler heartbeat, DAG parse time, pool slots
  (open / queued / running, labelled by pool) and task failures arrive as labelled metrics.
  Airflow sends to it with ``AIRFLOW__METRICS__STATSD_ON=True``,
  ``AIRFLOW__METRICS__STATSD_HOST=statsd-exporter.monitoring.svc``, port 9125.
* blackbox exporter: HTTP probes of the external APIs in config; the HTTP prober also
  records the DNS lookup time (``probe_dns_lookup_time_seconds``, DNS Resolution panel).
* Traefik: the ingress, and the per-service HTTP metrics (``traefik_service_requests_total``,
  ``traefik_service_request_duration_seconds``) behind the Application Health panels and
  HTTP5xxSpike: request rate, errors and latency for the API, Airflow webserver and MLflow
  come from the ingress they all sit behind, with no change to those services.
* cert-manager with a Let's Encrypt ClusterIssuer: Grafana's TLS certificate, and the
  certificate-expiry metric (``certmanager_certificate_expiration_timestamp_seconds``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

import pulumi
import pulumi_kubernetes as k8s

from components import pins
from components.cluster_base.releases import helm_release, secret
from components.config import GrafanaConfig, ObservabilityConfig, SecretValue
from components.observability import airflow_statsd, sizing
from components.topology import (
    CERT_MANAGER_NAMESPACE,
    INGRESS_NAMESPACE,
    PERMANENT_NODES,
    PLATFORM_CRITICAL_CLASS,
    PLATFORM_STANDARD_CLASS,
    POSTGRES_EXPORTER_SECRET,
)


def postgres_values(grafana: GrafanaConfig) -> dict:
    host, _, port = grafana.postgres_host.partition(":")
    return {
        "config": {
            "datasource": {
                "host": host,
                "port": port or "5432",
                "user": grafana.postgres_user,
                "database": grafana.postgres_database,
                "sslmode": "require",
                "passwordSecret": {"name": POSTGRES_EXPORTER_SECRET, "key": "password"},
            }
        },
        "serviceMonitor": {"enabled": True},
        "resources": sizing.resources("postgres-exporter"),
        "nodeSelector": PERMANENT_NODES,
        "priorityClassName": PLATFORM_STANDARD_CLASS,
    }


def probe_name(url: str) -> str:
    return (urlparse(url).hostname or url).replace(".", "-")


def blackbox_values(obs: ObservabilityConfig) -> dict:
    return {
        "serviceMonitor": {
            "enabled": True,
            "defaults": {"module": "http_2xx", "interval": "30s", "scrapeTimeout": "10s"},
            "targets": [{"name": probe_name(url), "url": url} for url in obs.external_probes],
        },
        "resources": sizing.resources("blackbox-exporter"),
        "nodeSelector": PERMANENT_NODES,
        "priorityClassName": PLATFORM_STANDARD_CLASS,
    }


def cert_manager_values() -> dict:
    return {
        "crds": {"enabled": True},
        # The certificate's namespace and name are the exporter's labels, not the target's: with
        # the chart's honorLabels false, `namespace` would be cert-manager's own (README "Labels
        # after scraping").
        "prometheus": {"servicemonitor": {"enabled": True, "honorLabels": True}},
        "global": {"priorityClassName": PLATFORM_STANDARD_CLASS},
        "resources": sizing.resources("cert-manager"),
        "nodeSelector": PERMANENT_NODES,
        "startupapicheck": {
            "resources": sizing.resources("cert-manager-startupapicheck"),
            "nodeSelector": PERMANENT_NODES,
        },
        "webhook": {"resources": sizing.resources("cert-manager-webhook"), "nodeSelector": PERMANENT_NODES},
        "cainjector": {"resources": sizing.resources("cert-manager-cainjector"), "nodeSelector": PERMANENT_NODES},
    }


def traefik_values() -> dict:
    return {
        "deployment": {"replicas": sizing.PERMANENT_POOL["traefik"].replicas},
        "podDisruptionBudget": {"enabled": True, "minAvailable": 1},
        # Traefik's `service` label names the backend; with the chart's honorLabels false it
        # would be stored as `exported_service` and `service` would always be "traefik".
        "metrics": {"prometheus": {"serviceMonitor": {"enabled": True, "honorLabels": True}}},
        "resources": sizing.resources("traefik"),
        "nodeSelector": PERMANENT_NODES,
        # The ingress of the HFT services' APIs, Airflow and MLflow: above `high-priority`.
        "priorityClassName": PLATFORM_CRITICAL_CLASS,
    }


@dataclass(frozen=True)
class ExportersArgs:
    namespace: pulumi.Input[str]
    observability: ObservabilityConfig
    grafana: GrafanaConfig
    postgres_password: SecretValue
    provider: k8s.Provider
    depends_on: list


class Exporters(pulumi.ComponentResource):
    def __init__(self, name: str, args: ExportersArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("trading:observability:Exporters", name, None, opts)

        def release(
            key: str,
            chart: str,
            values: Any,
            namespace: pulumi.Input[str] = args.namespace,
            depends_on: Sequence[pulumi.Resource] = (),
        ) -> k8s.helm.v3.Release:
            return helm_release(
                f"{name}-{key}",
                key,
                pins.chart(chart),
                namespace,
                values,
                parent=self,
                provider=args.provider,
                depends_on=[*args.depends_on, *depends_on],
                create_namespace=namespace != args.namespace,
            )

        self.postgres_secret = secret(
            f"{name}-postgres-password",
            POSTGRES_EXPORTER_SECRET,
            args.namespace,
            {"password": args.postgres_password.output()},
            parent=self,
            provider=args.provider,
        )
        self.postgres_exporter = release(
            "postgres-exporter",
            "prometheus-postgres-exporter",
            postgres_values(args.grafana),
            depends_on=[self.postgres_secret],
        )
        self.statsd_exporter = airflow_statsd.declare(f"{name}-statsd-exporter", args.namespace, args.provider, self)
        self.blackbox_exporter = release(
            "blackbox-exporter", "prometheus-blackbox-exporter", blackbox_values(args.observability)
        )
        self.cert_manager = release(
            "cert-manager", "cert-manager", cert_manager_values(), namespace=CERT_MANAGER_NAMESPACE
        )
        self.traefik = release("traefik", "traefik", traefik_values(), namespace=INGRESS_NAMESPACE)
        self.cluster_issuer = k8s.apiextensions.CustomResource(
            f"{name}-letsencrypt",
            api_version="cert-manager.io/v1",
            kind="ClusterIssuer",
            metadata=k8s.meta.v1.ObjectMetaArgs(name="letsencrypt"),
            spec={
                "acme": {
                    "server": "https://acme-v02.api.letsencrypt.org/directory",
                    "email": args.grafana.acme_email,
                    "privateKeySecretRef": {"name": "letsencrypt-account"},
                    "solvers": [{"http01": {"ingress": {"ingressClassName": "traefik"}}}],
                }
            },
            opts=pulumi.ResourceOptions(parent=self, provider=args.provider, depends_on=[self.cert_manager]),
        )
        self.register_outputs({})
