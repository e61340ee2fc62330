"""YAML from clients (kapi/yaml_input.py): read as sigs.k8s.io/yaml over go-yaml v2 reads
it for kube-apiserver, and refused, with go-yaml's words, where go-yaml refuses it.

The expected values and messages come from go-yaml v2's ``resolve.go`` and ``decode.go``
(the fork in sigs.k8s.io/yaml/goyaml.v2 that kube 1.32 uses), sigs.k8s.io/yaml's
``yaml.go`` and go-yaml's ``limit_test.go``.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from typing import Any

import orjson
import pytest

from kapi import json_depth, yaml_input
from kapi.yaml_input import YAMLError


def laughs(levels: int, fanout: int = 9) -> bytes:
    """The "billion laughs" document of the issue: each level aliases the one before."""
    lines = ['a0: &a0 "lol"']
    for i in range(1, levels + 1):
        lines.append(f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * fanout)}]")
    return ("\n".join(lines) + "\n").encode()


def load(text: str | bytes) -> Any:
    data = text.encode() if isinstance(text, str) else text
    loaded = yaml_input.load(data)
    assert loaded.json == orjson.dumps(loaded.value)
    return loaded.value


def refused(text: str | bytes) -> str:
    with pytest.raises(YAMLError) as info:
        load(text)
    return str(info.value)


# --- values: go-yaml v2's YAML 1.1 resolution, written as Go's JSON encoder writes them ----


@pytest.mark.parametrize(
    ("scalar", "value"),
    [
        ("abc", "abc"),
        ("'1'", "1"),
        ('"yes"', "yes"),
        ("1", 1),
        ("-12", -12),
        ("+7", 7),
        ("1_000", 1000),
        ("0x1F", 31),
        ("010", 8),  # YAML 1.1 octal
        ("0o17", 15),
        ("0b101", 5),
        ("08", 8),  # not octal, not an int: a float, which Go writes as 8
        ("1.0", 1),
        ("1.5", 1.5),
        (".5", 0.5),
        ("-.5", -0.5),
        ("1e3", 1000),
        ("18446744073709551615", 18446744073709551615),  # uint64
        ("99999999999999999999", 1e20),  # past 64 bits: a float
        ("yes", True),
        ("y", True),
        ("On", True),
        ("n", False),
        ("off", False),
        ("FALSE", False),
        ("~", None),
        ("null", None),
        ("", None),
        ("1:30", "1:30"),  # base 60 is not supported
        ("2001-12-14", "2001-12-14"),  # timestamps stay their text
        ("2001-12-14t21:59:43.10-05:00", "2001-12-14t21:59:43.10-05:00"),
        ("<<", "<<"),
        ("!!str 12", "12"),
        ("!!int '12'", 12),
        ("!!float 1", 1),
        ("!!timestamp 2001-12-14", "2001-12-14"),
        ("!!binary aGVsbG8=", "hello"),
        ("!custom 12", "12"),
        ("! 12", "12"),
    ],
)
def test_scalars_resolve_as_go_yaml_v2(scalar: str, value: Any) -> None:
    got = load(f"v: {scalar}\n")["v"]
    assert got == value
    assert type(got) is type(value)


def test_keys_become_strings_as_sigs_k8s_io_yaml_makes_them() -> None:
    doc = (
        "data: {1: a, -2: b, true: c, y: d, 1.5: e, 1000000.0: f, 0.0001: g, .inf: h, "
        "3.14159265358979: i}"
    )
    assert load(doc) == {
        "data": {
            "1": "a",
            "-2": "b",
            "true": "d",  # y is true too, and comes later
            "1.5": "e",
            "1e+06": "f",  # FormatFloat(f, 'g', -1, 32)
            "0.0001": "g",
            ".inf": "h",
            "3.1415927": "i",
        }
    }


def test_merge_keys_as_go_yaml_v2_merges_them() -> None:
    doc = """
    base: &base {x: 1, z: 1}
    over: &over {x: 2, w: 2}
    a:
      x: 0
      <<: *base
      z: 3
    b:
      <<: [*over, *base]
    c:
      <<: {p: 1}
    """
    assert load(textwrap.dedent(doc)) == {
        "base": {"x": 1, "z": 1},
        "over": {"x": 2, "w": 2},
        "a": {"x": 1, "z": 3},  # in document order: the merge overrides x, z overrides it
        "b": {"x": 2, "z": 1, "w": 2},  # earlier maps of the list win
        "c": {"p": 1},
    }


def test_aliases_are_copies_not_shared_objects() -> None:
    value = load("a: &a {x: [1]}\nb: *a\n")
    assert value == {"a": {"x": [1]}, "b": {"x": [1]}}
    assert value["a"] is not value["b"]
    assert value["a"]["x"] is not value["b"]["x"]


def test_documents() -> None:
    assert load("") is None
    assert load("a: 1\n---\nb: [\n") == {"a": 1}  # kube reads the first document only
    docs = yaml_input.load_all(b"a: 1\n---\n---\nb: 2\n")
    assert [d.value for d in docs] == [{"a": 1}, None, {"b": 2}]


def test_json_bodies_take_the_fast_path_and_the_same_limits() -> None:
    assert load('{"a": [1, {"b": null}]}') == {"a": [1, {"b": None}]}
    deep = b'{"a":' * (json_depth.MAX_DEPTH + 1) + b"1" + b"}" * (json_depth.MAX_DEPTH + 1)
    assert refused(deep) == f"yaml: exceeded max depth of {json_depth.MAX_DEPTH}"


# --- refusals ------------------------------------------------------------------------------

MERGE_NEEDS_MAPS = "yaml: map merge requires map or sequence of maps as the value"


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ("a: &a [*a]\n", "yaml: anchor 'a' value contains itself"),
        ("a: &a {b: *a}\n", "yaml: anchor 'a' value contains itself"),
        ("a: 1\nb: *nope\n", "yaml: unknown anchor 'nope' referenced"),
        ("a: 1\nb:\n  <<: 5\n", "yaml: map merge requires map or sequence of maps as the value"),
        (
            "a: &l [1]\nb:\n  <<: *l\n",
            "yaml: map merge requires map or sequence of maps as the value",
        ),
        ("a: !!int foo\n", "yaml: cannot decode !!str `foo` as a !!int"),
        ("a: !!bool 1\n", "yaml: cannot decode !!int `1` as a !!bool"),
        ("a: !!binary '***'\n", "yaml: !!binary value contains invalid base64 data"),
        ("a: \x01\n", "yaml: control characters are not allowed"),
        ("? [a, b]\n: 1\n", 'yaml: invalid map key: []interface {}{"a", "b"}'),
        ('a: "\\ud800"\n', "yaml: found invalid Unicode character escape code"),
        ("a: b: c\n", "yaml: mapping values are not allowed in this context"),
        ("a: 1\nb: [1, 2\n", "yaml: line 2: did not find expected ',' or ']'"),
        ("a: .nan\n", "json: unsupported value: NaN"),
        ("a: [-.inf]\n", "json: unsupported value: -Inf"),
        ("data: {~: x}\n", 'unsupported map key of type: %!s(<nil>), key: <nil>, value: "x"'),
        (
            "data: {18446744073709551615: 1}\n",
            "unsupported map key of type: uint64, key: 0xffffffffffffffff, value: 1",
        ),
        # a failure found while decoding gives way to a syntax error later in the document
        ("a: &a [*a]\nb: [\n", "yaml: line 2: did not find expected node content"),
    ],
)
def test_refusals_in_go_yamls_words(doc: str, message: str) -> None:
    assert refused(doc) == message


def test_billion_laughs_is_excessive_aliasing() -> None:
    assert load(laughs(3)) is not None  # 820 nodes: under go-yaml's 1,000-node floor
    assert refused(laughs(4)) == "yaml: document contains excessive aliasing"
    assert refused(laughs(6)) == "yaml: document contains excessive aliasing"


def test_the_issues_bomb_is_refused_within_a_small_address_space() -> None:
    """Nine levels of nine (387 million "lol"s in 500 bytes): refused without expanding, in
    a child limited to 512 MiB, so a regression cannot take the machine's memory."""
    body = laughs(9)
    assert len(body) <= 500
    code = textwrap.dedent(
        """
        import resource, sys
        resource.setrlimit(resource.RLIMIT_AS, (512 << 20, 512 << 20))
        from kapi import yaml_input
        try:
            yaml_input.load(sys.stdin.buffer.read())
        except yaml_input.YAMLError as exc:
            print(exc)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", code], input=body, capture_output=True, timeout=60, check=False
    )
    assert done.stdout.decode().strip() == "yaml: document contains excessive aliasing"


def test_go_yamls_own_limit_cases() -> None:
    """From go-yaml's limit_test.go: many maps with one anchor pass; a hundred aliases of a
    large anchor are refused."""
    maps = "a: &a [{a}" + ",{a}" * (100 * 1024 // 4 - 1) + "]"
    assert len(load(maps)["a"]) == 100 * 1024 // 4
    aliases = "{a: &a [{a}" + ",{a}" * (1000 * 1024 // 4 - 100) + "], b: &b [*a" + ",*a" * 99 + "]}"
    assert refused(aliases) == "yaml: document contains excessive aliasing"


def test_aliased_text_is_bounded_in_bytes_too() -> None:
    """One anchored string aliased 99 times stays under go-yaml's node budget (100 aliases)
    but not under kapi's byte budget once the string is large."""
    doc = "a: &x '{}'\nb: [{}]\n"
    small = "x" * 1000
    assert len(load(doc.format(small, ", ".join(["*x"] * 99)))["b"]) == 99
    large = "x" * (yaml_input.MAX_ALIASED_BYTES // 50)
    refusal = refused(doc.format(large, ", ".join(["*x"] * 99)))
    assert refusal == "yaml: document contains excessive aliasing"


@pytest.mark.parametrize(
    ("doc", "line"),
    [
        ("[" * (json_depth.MAX_DEPTH + 1), ""),
        ("a:\n" + "".join(f"{'  ' * i}- \n" for i in range(json_depth.MAX_DEPTH + 2)), "line "),
        ("x: " + "{" * 100_000, ""),
    ],
)
def test_nesting_past_what_kapi_writes_back_is_refused(doc: str, line: str) -> None:
    message = refused(doc)
    assert message.startswith(f"yaml: {line}")
    assert message.endswith(f"exceeded max depth of {json_depth.MAX_DEPTH}")


def test_nesting_at_the_limit_is_read() -> None:
    depth = json_depth.MAX_DEPTH
    assert load("[" * depth + "]" * depth) is not None


def test_nesting_reached_through_aliases_is_refused() -> None:
    half = json_depth.MAX_DEPTH // 2 + 1
    doc = f"a: &a {'[' * half}1{']' * half}\nb: {'[' * half}*a{']' * half}\n"
    assert refused(doc) == f"yaml: exceeded max depth of {json_depth.MAX_DEPTH}"


def test_pure_python_parser_gives_the_same_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without libyaml, PyYAML's own (iterative) parser feeds the same builder."""
    monkeypatch.setattr(yaml_input, "_libyaml", None)
    assert load("a: [1, yes, 0x1F]\nb: &b {c: 1}\nd: *b\n") == {
        "a": [1, True, 31],
        "b": {"c": 1},
        "d": {"c": 1},
    }
    assert refused(laughs(5)) == "yaml: document contains excessive aliasing"
    assert refused('a: "\\ud800"\n') == "yaml: found invalid Unicode character escape code"
    too_deep = refused("[" * (json_depth.MAX_DEPTH + 1))
    assert too_deep == f"yaml: exceeded max depth of {json_depth.MAX_DEPTH}"


def test_a_clients_values_in_messages_are_cut() -> None:
    """A refusal repeats at most 64 characters of each value it names, whatever its size."""
    huge = "9" * 100_000 + "x"
    assert refused(f"a: !!int {huge}\n") == f"yaml: cannot decode !!str `{'9' * 64}...` as a !!int"
    assert len(refused(f"? [{huge}, {huge}]\n: 1\n")) < 300
