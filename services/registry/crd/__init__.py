"""Serving CustomResourceDefinitions: the API extended at run time, as kube's
apiextensions-apiserver extends it.

- ``informer``: the CRDs kept in memory from storage (list, then watch);
- ``serving``: what follows the informer in every registry replica — the catalog's
  custom definitions (``definitions``) and the CRD controllers (``controllers``: names
  accepted, established, instances deleted before a CRD goes);
- ``definitions``: a CRD's served versions as ``Definition``s: scope, verbs, names,
  subresources, printer columns (``printing``), selectable fields, versions and
  conversion (``conversion``);
- ``schema`` (structural schemas: validation, pruning, defaulting, embedded objects),
  ``model`` (the ``ObjectModel`` built on it: decoding, fieldValidation, server-side
  apply, OpenAPI), ``strategy`` (the custom resource strategy: status and generation);
- ``validation``: the CRD's own validation (structural schemas required in v1).
"""
