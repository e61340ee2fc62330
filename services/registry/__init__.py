"""The registry service: the type table, strategies, OpenAPI and server-side printing."""
