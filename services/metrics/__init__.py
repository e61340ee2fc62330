"""kapi's metrics server: ``metrics.k8s.io/v1beta1`` for ``kubectl top`` and resource
metrics, as metrics-server serves it, behind the aggregator.

Its floors, as every service's: ``__main__.py`` (flags, or ``KAPI_*``) → ``server.py``
(composition: informers over the registry, HTTPS, registration) → ``api.py`` (the HTTP
API: discovery, OpenAPI, NodeMetrics and PodMetrics, front-proxy authentication) → the
domain, ``usage.py`` (what simulated containers use). ``registration.py`` is what it
writes to be found: the Service, EndpointSlice and APIService metrics-server's manifests
create.
"""
