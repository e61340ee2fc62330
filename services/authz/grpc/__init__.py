"""gRPC adapter of the authz service."""
