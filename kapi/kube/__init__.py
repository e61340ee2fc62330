"""kapi's own Kubernetes client for the components beside the API server.

The controller manager, the scheduler and the simulated nodes are clients of the gateway
over HTTPS, as kube-controller-manager, kube-scheduler and kubelets are clients of
kube-apiserver. This package is their client-go: a connection from a kubeconfig
(``connection``), JSON requests and watch streams (``client``), informers that list,
watch, resync and relist on 410 (``informer``), rate-limited work queues
(``workqueue``), leader election on a Lease (``leaderelection``) and an event recorder
(``events``), each with client-go's semantics.

Why not a published client library: kubernetes_asyncio and lightkube decode every
object into model classes (the official client's deserialiser takes ~0.3-0.4 ms per pod
here against ~0.05 ms for orjson into a dict), kr8s wraps httpx, and none of them has
informers, work queues and Lease-based leader election with client-go's semantics, which
are the point of a controller manager. kopf, the field's Python operator framework,
makes the same choice: its own thin aiohttp client, objects as plain dicts.
"""
