"""The observability layer: metrics, logs, traces, exporters, Grafana objects, and sizing."""
