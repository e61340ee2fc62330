"""Name syntax of k8s.io/apimachinery/pkg/util/validation, worded as apimachinery.

Each function returns why a string is not a valid name of its kind (an empty list when
it is). Shared by the label-selector parser (kapi.selectors) and the registry's object
validation, so both word the same rule the same way.
"""

from __future__ import annotations

import re
from collections.abc import Callable

DNS1123_LABEL_MAX = 63
DNS1123_SUBDOMAIN_MAX = 253
DNS1035_LABEL_MAX = 63
LABEL_VALUE_MAX = 63
QUALIFIED_NAME_MAX = 63
TOTAL_ANNOTATION_SIZE = 256 * 1024

_DNS1123_LABEL = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_SUBDOMAIN = _DNS1123_LABEL + r"(\." + _DNS1123_LABEL + ")*"
_DNS1035_LABEL = "[a-z]([-a-z0-9]*[a-z0-9])?"
_QUALIFIED_NAME = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_LABEL_VALUE = "(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?"
_CONFIG_MAP_KEY = r"[-._a-zA-Z0-9]+"

# Matched with ``fullmatch``: Go's ``^...$`` ends at the end of the text, while Python's
# ``$`` also matches before a trailing newline ("abc\n" is no DNS label).
_RE = {
    name: re.compile(pattern)
    for name, pattern in {
        "label": _DNS1123_LABEL,
        "subdomain": _DNS1123_SUBDOMAIN,
        "dns1035": _DNS1035_LABEL,
        "qualified": _QUALIFIED_NAME,
        "value": _LABEL_VALUE,
        "cmkey": _CONFIG_MAP_KEY,
    }.items()
}


def _len(value: str) -> int:
    """Go's ``len``: the length in bytes (UTF-8), which the limits are counted in."""
    return len(value.encode())


def _max_len(n: int) -> str:
    return f"must be no more than {n} characters"


def _regex_error(msg: str, pattern: str, *examples: str) -> str:
    """apimachinery's RegexError, spacing included ("'a',  or 'b'")."""
    if not examples:
        return f"{msg} (regex used for validation is '{pattern}')"
    listed = " or ".join(f"'{e}', " for e in examples)
    return f"{msg} (e.g. {listed}regex used for validation is '{pattern}')"


def dns1123_label(value: str) -> list[str]:
    out = []
    if _len(value) > DNS1123_LABEL_MAX:
        out.append(_max_len(DNS1123_LABEL_MAX))
    if not _RE["label"].fullmatch(value):
        out.append(
            _regex_error(
                "a lowercase RFC 1123 label must consist of lower case alphanumeric characters "
                "or '-', and must start and end with an alphanumeric character",
                _DNS1123_LABEL,
                "my-name",
                "123-abc",
            )
        )
    return out


def dns1123_subdomain(value: str) -> list[str]:
    out = []
    if _len(value) > DNS1123_SUBDOMAIN_MAX:
        out.append(_max_len(DNS1123_SUBDOMAIN_MAX))
    if not _RE["subdomain"].fullmatch(value):
        out.append(
            _regex_error(
                "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
                "characters, '-' or '.', and must start and end with an alphanumeric character",
                _DNS1123_SUBDOMAIN,
                "example.com",
            )
        )
    return out


def dns1035_label(value: str) -> list[str]:
    out = []
    if _len(value) > DNS1035_LABEL_MAX:
        out.append(_max_len(DNS1035_LABEL_MAX))
    if not _RE["dns1035"].fullmatch(value):
        out.append(
            _regex_error(
                "a DNS-1035 label must consist of lower case alphanumeric characters or '-', "
                "start with an alphabetic character, and end with an alphanumeric character",
                _DNS1035_LABEL,
                "my-name",
                "abc-123",
            )
        )
    return out


def path_segment_name(value: str) -> list[str]:
    """Names that only need to be usable in a URL path (kube's ValidatePathSegmentName)."""
    if value in (".", ".."):
        return [f"may not be '{value}'"]
    return [f"may not contain '{c}'" for c in ("/", "%") if c in value]


NameValidator = Callable[[str], list[str]]


def qualified_name(value: str) -> list[str]:
    """A label or annotation key: ``[prefix/]name``."""
    out: list[str] = []
    parts = value.split("/")
    if len(parts) == 1:
        name = parts[0]
    elif len(parts) == 2:
        prefix, name = parts
        if not prefix:
            out.append("prefix part " + "must be non-empty")
        else:
            out.extend("prefix part " + m for m in dns1123_subdomain(prefix))
    else:
        return [
            _regex_error(
                "a qualified name must consist of alphanumeric characters, '-', '_' or '.', "
                "and must start and end with an alphanumeric character",
                _QUALIFIED_NAME,
                "MyName",
                "my.name",
                "123-abc",
            )
            + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
        ]
    if not name:
        out.append("name part must be non-empty")
    elif _len(name) > QUALIFIED_NAME_MAX:
        out.append("name part " + _max_len(QUALIFIED_NAME_MAX))
    if not _RE["qualified"].fullmatch(name):  # kube also says it for an empty name part
        out.append(
            "name part "
            + _regex_error(
                "must consist of alphanumeric characters, '-', '_' or '.', and must start and "
                "end with an alphanumeric character",
                _QUALIFIED_NAME,
                "MyName",
                "my.name",
                "123-abc",
            )
        )
    return out


def label_value(value: str) -> list[str]:
    out = []
    if _len(value) > LABEL_VALUE_MAX:
        out.append(_max_len(LABEL_VALUE_MAX))
    if not _RE["value"].fullmatch(value):
        out.append(
            _regex_error(
                "a valid label must be an empty string or consist of alphanumeric characters, "
                "'-', '_' or '.', and must start and end with an alphanumeric character",
                _LABEL_VALUE,
                "MyValue",
                "my_value",
                "12345",
            )
        )
    return out


def config_map_key(value: str) -> list[str]:
    out = []
    if _len(value) > DNS1123_SUBDOMAIN_MAX:
        out.append(_max_len(DNS1123_SUBDOMAIN_MAX))
    if not _RE["cmkey"].fullmatch(value):
        out.append(
            _regex_error(
                "a valid config key must consist of alphanumeric characters, '-', '_' or '.'",
                _CONFIG_MAP_KEY,
                "key.name",
                "KEY_NAME",
                "key-name",
            )
        )
    # kube's hasChDirPrefix: a key is also a file name in a volume.
    if value == ".":
        out.append("must not be '.'")
    elif value == "..":
        out.append("must not be '..'")
    elif value.startswith(".."):
        out.append("must not start with '..'")
    return out
