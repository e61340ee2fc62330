"""The gRPC adapter of the storage service: ``storage.proto`` in, the domain ``Store`` out."""
