"""Go's regular expressions (RE2), as CRD schemas write them, compiled by Python's ``re``.

The two agree on what schemas use, but for a few spellings: RE2 takes flags in the middle
of a pattern (``^(?i)(abort|warn)?$`` in prometheus-operator's PrometheusRule), which
apply to the rest of the enclosing group — Python takes global flags only at the start,
so they become a scoped group here (``^(?i:(abort|warn)?$)``); RE2's ``\\z`` is Python's
``\\Z``.
"""

from __future__ import annotations

import functools
import re

_FLAGS = re.compile(r"\(\?([imsU]+)\)")


def translate(pattern: str) -> str:
    """``pattern`` in Python's dialect (unchanged when already the same)."""
    pattern = pattern.replace(r"\z", r"\Z")
    out: list[str] = []
    depth_closers = [0]  # per open group: how many scoped flag groups to close in it
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            out.append(pattern[i : i + 2])
            i += 2
            continue
        if char == "[":
            end = _class_end(pattern, i)
            out.append(pattern[i:end])
            i = end
            continue
        match = _FLAGS.match(pattern, i)
        if match is not None:
            flags = match.group(1).replace("U", "")
            if i == 0 and flags:
                out.append(f"(?{flags})")
            elif flags:
                out.append(f"(?{flags}:")
                depth_closers[-1] += 1
            i = match.end()
            continue
        if char == "(":
            depth_closers.append(0)
            out.append(char)
        elif char == ")":
            out.append(")" * depth_closers.pop() if len(depth_closers) > 1 else "")
            out.append(char)
        elif char == "|" and depth_closers[-1]:
            # the flags scope ended with this branch: close it, and reopen nothing
            out.append(")" * depth_closers[-1])
            depth_closers[-1] = 0
            out.append(char)
        else:
            out.append(char)
        i += 1
    out.append(")" * depth_closers[0])
    return "".join(out)


def _class_end(pattern: str, start: int) -> int:
    i = start + 1
    if i < len(pattern) and pattern[i] == "^":
        i += 1
    if i < len(pattern) and pattern[i] == "]":
        i += 1
    while i < len(pattern):
        if pattern[i] == "\\":
            i += 2
            continue
        if pattern[i] == "]":
            return i + 1
        i += 1
    return len(pattern)


@functools.lru_cache(maxsize=4096)
def compile_go(pattern: str) -> re.Pattern[str]:
    """``pattern`` compiled; ``re.error`` when neither dialect can read it."""
    return re.compile(translate(pattern))
