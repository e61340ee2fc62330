"""kapi: the command line and what every service shares (errors, gRPC plumbing, config)."""
