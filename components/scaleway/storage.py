"""Object storage for Loki and Tempo, and the only credential that can write to it.

Each bucket expires objects a week after the retention in config (the Loki and Tempo
compactors delete on time; the lifecycle rule is the backstop that keeps a stopped
compactor from growing the bill).  Chunks and blocks are written once and never
overwritten, so versioning would only keep deleted data: it stays off.

Scaleway IAM scopes permission sets to projects, not to buckets: the application's policy
grants object read/write/delete in this stack's project only, so keep other workloads'
buckets in other projects (README "Object storage").
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
from pulumiverse_scaleway import iam
from pulumiverse_scaleway import object as s3

from components.config import NetworkConfig, duration_days

LIFECYCLE_GRACE_DAYS = 7


@dataclass(frozen=True)
class ObjectStorageArgs:
    prefix: str
    bucket_suffix: str  # bucket names are global across Scaleway: a random, never-changing suffix
    organization_id: str  # IAM applications and policies belong to an Organization
    key_expires_on: str  # YYYY-MM-DD
    network: NetworkConfig
    retention: dict[str, str]  # bucket purpose -> retention duration
    protect: bool
    tags: list[str]


class ObjectStorage(pulumi.ComponentResource):
    def __init__(self, name: str, args: ObjectStorageArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("trading:infra:ObjectStorage", name, None, opts)
        region = args.network.region
        self.buckets: dict[str, s3.Bucket] = {}
        for purpose, retention in args.retention.items():
            self.buckets[purpose] = s3.Bucket(
                f"{name}-{purpose}",
                name=f"{args.prefix}-{purpose}-{args.bucket_suffix}",
                region=region,
                acl="private",
                force_destroy=False,
                lifecycle_rules=[
                    s3.BucketLifecycleRuleArgs(
                        id=f"expire-after-{purpose}-retention",
                        enabled=True,
                        expiration=s3.BucketLifecycleRuleExpirationArgs(
                            days=duration_days(retention) + LIFECYCLE_GRACE_DAYS
                        ),
                        abort_incomplete_multipart_upload_days=1,
                    )
                ],
                tags={t.split("=")[0]: (t.split("=") + [""])[1] for t in args.tags + [f"purpose={purpose}"]},
                opts=pulumi.ResourceOptions(parent=self, protect=args.protect),
            )
        self.application = iam.Application(
            f"{name}-telemetry-writer",
            name=f"{args.prefix}-telemetry-writer",
            organization_id=args.organization_id,
            description="Loki and Tempo: read and write their object-storage buckets",
            tags=args.tags,
            opts=pulumi.ResourceOptions(parent=self),
        )
        project_id = next(iter(self.buckets.values())).project_id
        self.policy = iam.Policy(
            f"{name}-telemetry-writer-policy",
            name=f"{args.prefix}-telemetry-writer",
            application_id=self.application.id,
            organization_id=args.organization_id,
            rules=[
                iam.PolicyRuleArgs(
                    project_ids=[project_id],
                    permission_set_names=[
                        "ObjectStorageObjectsRead",
                        "ObjectStorageObjectsWrite",
                        "ObjectStorageObjectsDelete",
                        "ObjectStorageBucketsRead",
                    ],
                )
            ],
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.api_key = iam.ApiKey(
            f"{name}-telemetry-writer-key",
            application_id=self.application.id,
            default_project_id=project_id,
            # Expires on the configured day: moving it replaces the key (rotation, README).
            expires_at=f"{args.key_expires_on}T00:00:00Z",
            description="Used by Loki and Tempo (Kubernetes Secret), never inline in Helm values",
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.policy]),
        )
        self.access_key: pulumi.Output[str] = pulumi.Output.secret(self.api_key.access_key)
        self.secret_key: pulumi.Output[str] = pulumi.Output.secret(self.api_key.secret_key)
        self.s3_endpoint = f"https://s3.{region}.scw.cloud"
        self.bucket_names = {purpose: bucket.name for purpose, bucket in self.buckets.items()}
        self.register_outputs({"bucket_names": self.bucket_names, "s3_endpoint": self.s3_endpoint})
