"""The fuzz suite's client and its checks.

``Target`` sends one request to kapi's gateway (HTTPS, the admin token unless the request
brings its own Authorization) and returns the ``Reply``: the status, the headers and, for
an error, the body. A watch or a large list is never read past its headers: only error
replies are checked.

``problems(reply)`` lists what is wrong with one reply: a 5xx at all, or an error that is
not a kube ``Status`` (kind Status, apiVersion v1, status Failure, the HTTP code as its
``code``, a reason, a message) or that shows Python internals (a repr, a traceback, an
internal address), or ``Warning`` headers past kube-apiserver's budget (its warning
recorder, k8s.io/apiserver/pkg/endpoints/filters/warning.go, writes 4,096 characters of
warning text, then 256 a warning, then none). ``describe`` writes a request and its reply
down so a failure reads as a reproducer.
"""

from __future__ import annotations

import http.client
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import requests

# Read a reply's headers this long, and a reply as a whole at most this long: a stalled
# gateway is a failure, not a hung suite.
CONNECT_SECONDS = 10.0
READ_SECONDS = 60.0
# An error Status is small; more than this is read no further (and is a problem itself).
MAX_ERROR_BODY = 1024 * 1024
# kube-apiserver's warning budget: this many characters of warning text in all, then
# warnings of at most WARNING_ITEM characters until it is reached again.
WARNING_TOTAL = 4096
WARNING_ITEM = 256

# http.client refuses a reply of over 100 headers; kube-apiserver can send more Warning
# headers than that (each unknown field is one), so the suite reads them all and holds
# their total to kube's budget instead.
http.client._MAXHEADERS = 1_000_000

# What a client must never see in a Status message: a Python repr of an exception, a
# traceback, an object's repr, a gRPC peer address.
_INTERNALS = re.compile(
    r"Traceback \(most recent call last\)"
    r"|\b[A-Z][A-Za-z]*(?:Error|Exception|Exit|Interrupt)\("
    r"|<[A-Za-z_][\w.]* object at 0x[0-9a-f]+>"
    r"|\bipv[46]:"
    r"|\bunix:/"
)


@dataclass(frozen=True)
class Reply:
    request: requests.PreparedRequest
    shown: str  # the request as a reproducer, the admin token masked
    status: int
    headers: Mapping[str, str]
    warnings: list[str]  # each Warning header's value
    body: bytes  # error replies only; b"" for a success


class Target:
    """kapi's gateway as the fuzz suite reaches it."""

    def __init__(self, server: str, token: str, ca_file: str) -> None:
        self.server = server.rstrip("/")
        self.token = token
        self.session = requests.Session()
        self.session.verify = ca_file
        self.session.trust_env = False  # never a proxy from the environment

    def close(self) -> None:
        self.session.close()

    def send(
        self,
        method: str,
        path: str = "",
        *,
        url: str = "",
        params: Any = None,
        headers: Mapping[str, str | bytes] | None = None,
        data: bytes | str | None = None,
        json_body: Any = None,
        files: Any = None,
    ) -> Reply:
        """One request; ``headers`` may carry their own ``Authorization`` (an empty value
        sends none). ``url`` (schemathesis' transport arguments) wins over ``path``."""
        sent: dict[str, str | bytes] = {"Authorization": f"Bearer {self.token}"}
        for name, value in (headers or {}).items():
            if name.lower() == "authorization":
                sent.pop("Authorization", None)
                if value == "":
                    continue
            sent[name] = value
        prepared = self.session.prepare_request(
            requests.Request(
                method=method,
                url=url or self.server + path,
                params=params,
                headers=sent,
                data=data,
                json=json_body,
                files=files,
            )
        )
        shown = describe_request(prepared, admin=f"Bearer {self.token}")
        try:
            response = self.session.send(
                prepared, stream=True, timeout=(CONNECT_SECONDS, READ_SECONDS)
            )
        except requests.Timeout:
            raise AssertionError(f"no reply within {READ_SECONDS:.0f} s:\n{shown}") from None
        except requests.ConnectionError as exc:
            # e.g. the server closed it, or sent what Python's http.client refuses to read
            # ("got more than 100 headers"): the official Python client fails alike.
            raise AssertionError(f"the connection failed: {exc}\n{shown}") from None
        with response:
            body = b""
            if response.status_code >= 400:
                body = response.raw.read(MAX_ERROR_BODY + 1, decode_content=True)
            warnings = list(response.raw.headers.getlist("Warning"))
            headers = dict(response.headers)
            return Reply(prepared, shown, response.status_code, headers, warnings, body)


def warning_text(header: str) -> str:
    """The text of a ``299 - "text"`` header, unquoted: what kube's budget counts."""
    quoted = header.split(" ", 2)[-1]
    return re.sub(r"\\(.)", r"\1", quoted[1:-1])


def problems(reply: Reply) -> list[str]:
    """What is wrong with ``reply``: [] when it is a success or a proper kube Status."""
    found: list[str] = []
    if reply.status >= 500:
        found.append(f"a {reply.status} reply")
    warned = sum(len(warning_text(w)) for w in reply.warnings)
    if warned > WARNING_TOTAL + WARNING_ITEM:
        found.append(
            f"{len(reply.warnings)} Warning headers of {warned} characters, "
            f"past kube's {WARNING_TOTAL} (+{WARNING_ITEM})"
        )
    if reply.status < 400 or reply.request.method == "HEAD":
        return found
    content_type = reply.headers.get("content-type", "")
    if not content_type.startswith("application/json"):
        found.append(f"an error reply of type {content_type!r}, not application/json")
    if len(reply.body) > MAX_ERROR_BODY:
        found.append(f"an error reply over {MAX_ERROR_BODY} bytes")
        return found
    try:
        status = json.loads(reply.body)
    except ValueError:
        found.append("an error reply that is not JSON")
        return found
    if not isinstance(status, dict):
        return [*found, "an error reply that is not a JSON object"]
    expected: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "status": "Failure",
        "code": reply.status,
    }
    for field, value in expected.items():
        if status.get(field) != value:
            found.append(f"Status {field} is {status.get(field)!r}, not {value!r}")
    if not isinstance(status.get("reason"), str) or not status["reason"]:
        found.append("a Status without a reason")
    message = status.get("message")
    if not isinstance(message, str):
        found.append("a Status without a message")
    elif _INTERNALS.search(message):
        found.append("a Status message showing internals")
    return found


def _shorten(data: bytes | str | None, limit: int = 600) -> str:
    if data is None:
        return ""
    text = data if isinstance(data, str) else data.decode("utf-8", "backslashreplace")
    if len(text) <= limit:
        return text
    return f"{text[: limit // 2]}…[{len(text)} chars]…{text[-limit // 4 :]}"


# Headers every request carries unless it sets its own: left out of a reproducer.
_DEFAULTS = {
    "user-agent": requests.utils.default_user_agent(),
    "accept-encoding": "gzip, deflate",
    "connection": "keep-alive",
}


def describe_request(request: requests.PreparedRequest, *, admin: str) -> str:
    """The request as sent; the admin's ``Authorization`` shown as ``<admin token>``."""
    headers = {
        name: "Bearer <admin token>" if value == admin else value
        for name, value in request.headers.items()
        if _DEFAULTS.get(name.lower()) != value
        and name.lower() != "content-length"
        and not name.lower().startswith("x-schemathesis")
    }
    return (
        f"{request.method} {_shorten(request.url, 400)}\n"
        f"  headers: {headers}\n"
        f"  body: {_shorten(request.body)}"
    )


def describe(reply: Reply) -> str:
    return f"{reply.shown}\n  -> {reply.status} {_shorten(reply.body)}"


def check(reply: Reply) -> None:
    """Fail with the request and its reply when the reply has a problem."""
    found = problems(reply)
    assert not found, "; ".join(found) + "\n" + describe(reply)
