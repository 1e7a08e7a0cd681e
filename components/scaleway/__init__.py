"""Scaleway: the private network, the Kapsule cluster and its pools, the critical-path hosts
and their host configuration, object storage, and the cost model."""
