"""gRPC adapter of the registry service."""
