"""kube's URL library (k8s.io/apiserver/pkg/cel/library/urls.go): ``url``, ``isURL`` and
the ``getScheme``/``getHost``/``getHostname``/``getPort``/``getEscapedPath``/``getQuery``
accessors, over Go ``url.ParseRequestURI`` rules (an absolute URL or an absolute path)."""

from __future__ import annotations

import re
import urllib.parse
from typing import Any

from cel_expr_python import cel

from kapi.cel import opaque
from kapi.cel.library.errors import EvalError

U = opaque.cel_type(opaque.URL)
S = cel.Type.STRING
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:")


def _check(text: str) -> urllib.parse.SplitResult:
    quoted = '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if not _SCHEME.match(text) and not text.startswith("/"):
        raise EvalError(
            "URL parse error during conversion from string: "
            f"parse {quoted}: invalid URI for request"
        )
    if any(c in text for c in " \x7f") or any(ord(c) < 0x20 for c in text):
        raise EvalError(
            f"URL parse error during conversion from string: parse {quoted}: "
            "net/url: invalid control character in URL"
        )
    try:
        return urllib.parse.urlsplit(text)
    except ValueError as exc:
        raise EvalError(
            f"URL parse error during conversion from string: parse {quoted}: {exc}"
        ) from None


def url(text: str) -> Any:
    _check(text)
    return opaque.new(opaque.URL, text)


def is_url(text: str) -> bool:
    try:
        _check(text)
    except EvalError:
        return False
    return True


def _split(u: Any) -> urllib.parse.SplitResult:
    return urllib.parse.urlsplit(opaque.text(u))


def get_scheme(u: Any) -> str:
    return _split(u).scheme


def get_host(u: Any) -> str:
    netloc = _split(u).netloc
    return netloc.rpartition("@")[2]


def get_hostname(u: Any) -> str:
    host = get_host(u)
    if host.startswith("["):
        return host[1 : host.find("]")]
    return host.rpartition(":")[0] if ":" in host else host


def get_port(u: Any) -> str:
    host = get_host(u)
    if host.startswith("["):
        rest = host[host.find("]") + 1 :]
        return rest[1:] if rest.startswith(":") else ""
    return host.rpartition(":")[2] if ":" in host else ""


def get_escaped_path(u: Any) -> str:
    return _split(u).path


def get_query(u: Any) -> dict[str, list[str]]:
    query = _split(u).query
    out: dict[str, list[str]] = {}
    for key, value in urllib.parse.parse_qsl(query, keep_blank_values=True):
        out.setdefault(key, []).append(value)
    return out


def _member(name: str, overload: str, result: cel.Type, impl: Any) -> Any:
    return cel.FunctionDecl(name, [cel.Overload(overload, result, [U], is_member=True, impl=impl)])


DECLS = [
    cel.FunctionDecl("url", [cel.Overload("string_to_url", U, [S], impl=url)]),
    cel.FunctionDecl("isURL", [cel.Overload("is_url_string", cel.Type.BOOL, [S], impl=is_url)]),
    _member("getScheme", "url_get_scheme", S, get_scheme),
    _member("getHost", "url_get_host", S, get_host),
    _member("getHostname", "url_get_hostname", S, get_hostname),
    _member("getPort", "url_get_port", S, get_port),
    _member("getEscapedPath", "url_get_escaped_path", S, get_escaped_path),
    _member("getQuery", "url_get_query", cel.Type.Map(S, cel.Type.List(S)), get_query),
]
