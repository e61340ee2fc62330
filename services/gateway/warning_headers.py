"""Warning headers, written as kube-apiserver's warning recorder writes them.

kube (k8s.io/apiserver/pkg/endpoints/filters/warning.go) keeps a reply's warnings within
a budget: each distinct text once, in order; once their text passes 4,096 characters
(runes) in all, every warning is cut to 256 and whatever comes after the budget is spent
is dropped. Each header is ``299 - "text"`` with the text quoted as Go's
``strconv.Quote`` does (apimachinery util/net ``NewWarningHeader``): UTF-8 as is, quotes
and backslashes escaped, other unprintable characters as ``\\uXXXX``; a text with a
control character is not sent at all. A reply with thousands of unknown fields thus
carries a few KiB of warnings, not thousands of headers.
"""

from __future__ import annotations

from collections.abc import Iterable

TOTAL_RUNES = 4 * 1024
ITEM_RUNES = 256


def headers(texts: Iterable[str]) -> list[bytes]:
    """The ``Warning`` header values (UTF-8 bytes) for a reply's warnings, in order."""
    kept: list[str] = []
    seen: set[str] = set()
    written = 0
    truncating = False
    for text in texts:
        if not text or text in seen:
            continue
        if truncating and written >= TOTAL_RUNES:
            break
        seen.add(text)
        if not _sendable(text):
            continue
        if truncating:
            text = text[:ITEM_RUNES]
        if written + len(text) <= TOTAL_RUNES or truncating:
            kept.append(text)
            written += len(text)
            continue
        # Over the budget for the first time: every warning so far is cut to its item
        # length, this one too, and the budget starts again.
        truncating = True
        kept = [item[:ITEM_RUNES] for item in (*kept, text)]
        written = sum(len(item) for item in kept)
    return [f"299 - {_go_quote(text)}".encode() for text in kept]


def _sendable(text: str) -> bool:
    """kube refuses a warning text that is not valid UTF-8 or has a control character."""
    return not any(_is_control(ch) or 0xD800 <= ord(ch) <= 0xDFFF for ch in text)


def _is_control(ch: str) -> bool:
    code = ord(ch)
    return code < 0x20 or 0x7F <= code < 0xA0  # Go's unicode.IsControl: C0, DEL, C1


def _go_quote(text: str) -> str:
    out = ['"']
    for ch in text:
        if ch in ('"', "\\"):
            out.append("\\" + ch)
        elif ch.isprintable():
            out.append(ch)
        elif ord(ch) < 0x10000:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    out.append('"')
    return "".join(out)
