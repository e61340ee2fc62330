"""Request-body codecs for the gateway (Kubernetes protobuf, beside JSON and YAML)."""
