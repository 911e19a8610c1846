"""Fixtures of the Kubernetes test helpers (shared with other test folders, see fixtures.py)."""

from tests.k8s.fixtures import api, k8s, kubelet  # noqa: F401
