"""The cluster's base: namespaces, priority classes, CRDs, and how charts and Secrets are released."""
