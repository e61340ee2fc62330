"""The REST gateway: the Kubernetes HTTP API surface."""
