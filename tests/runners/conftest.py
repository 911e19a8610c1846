"""The Kubernetes fixtures (emulator, client, local kubelet) for the Kubernetes runner's tests."""

from tests.k8s.fixtures import api, k8s, kubelet, service, token_service  # noqa: F401
