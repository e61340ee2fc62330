"""Kubernetes' CEL function libraries (k8s.io/apiserver/pkg/cel/library), written for
cel-cpp as Python functions with kube's semantics and error texts.

Each module exposes ``DECLS``: the ``cel.FunctionDecl`` list (declarations with their
implementations) of one kube library. ``environment`` loads them all as one extension so
their overloads merge with cel-cpp's own (``indexOf`` on lists beside the strings
extension's ``indexOf`` on strings).
"""

from __future__ import annotations

from cel_expr_python import cel

from kapi.cel.library import authz, lists, net, quantity, regex, sets, urls

DECLS: list[cel.FunctionDecl] = [
    *lists.DECLS,
    *regex.DECLS,
    *urls.DECLS,
    *quantity.DECLS,
    *net.DECLS,
    *sets.DECLS,
    *authz.DECLS,
]
