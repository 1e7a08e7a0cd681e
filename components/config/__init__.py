"""The stack's configuration: the schema of keys, the frozen model, and the validator.

from components import config
cfg = config.load(raw, secret_keys, stack)      # or config.from_pulumi() in a program
"""

from components.config.model import (
    PROJECT,
    AlertingConfig,
    AutoscalerConfig,
    ClusterConfig,
    CriticalPathHost,
    GrafanaConfig,
    HostTuning,
    InvalidConfig,
    NetworkConfig,
    NodeAllocatable,
    ObservabilityConfig,
    PoolConfig,
    Problem,
    Secrets,
    SecretValue,
    StackConfig,
    TimeServer,
    duration_days,
    duration_seconds,
    format_cpu_list,
    parse_cpu_list,
    retention_hours,
    size_in_bytes,
)
from components.config.schema import KEYS, SECRET_KEYS
from components.config.validators import Check, from_pulumi, load

__all__ = [
    "KEYS",
    "PROJECT",
    "SECRET_KEYS",
    "AlertingConfig",
    "AutoscalerConfig",
    "Check",
    "ClusterConfig",
    "CriticalPathHost",
    "GrafanaConfig",
    "HostTuning",
    "InvalidConfig",
    "NetworkConfig",
    "NodeAllocatable",
    "ObservabilityConfig",
    "PoolConfig",
    "Problem",
    "SecretValue",
    "Secrets",
    "StackConfig",
    "TimeServer",
    "duration_days",
    "duration_seconds",
    "format_cpu_list",
    "from_pulumi",
    "load",
    "parse_cpu_list",
    "retention_hours",
    "size_in_bytes",
]
