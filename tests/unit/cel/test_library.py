"""kube's CEL libraries on cel-cpp: cases carried from k8s.io/apiserver/pkg/cel/library
(lists_test.go, regex_test.go, urls_test.go, quantity_test.go, ip_test.go, cidr_test.go)
and cel-go's strings/optional/bind extensions as kube loads them."""

from __future__ import annotations

from typing import Any

import pytest

from kapi.cel import runtime
from kapi.cel.environment import CompileError, Environment

ENV = Environment({})

TRUE_CASES = [
    # lists
    "[1, 2, 3].isSorted()",
    "!['b', 'a'].isSorted()",
    "[].isSorted()",
    "[1, 2, 3].sum() == 6",
    "[1.5, 2.5].sum() == 4.0",
    "[].sum() == 0",
    "[3, 1, 2].min() == 1",
    "[3, 1, 2].max() == 3",
    "['b', 'a'].min() == 'a'",
    "[1, 2, 2, 3].indexOf(2) == 1",
    "[1, 2, 2, 3].lastIndexOf(2) == 2",
    "[1, 2].indexOf(5) == -1",
    "['a', 'b'].indexOf('b') == 1",
    # strings (cel-go ext.Strings as kube loads it)
    "'hello'.charAt(1) == 'e'",
    "'hello'.indexOf('l') == 2",
    "'hello'.lastIndexOf('l') == 3",
    "'HeLLo'.lowerAscii() == 'hello'",
    "'hello'.upperAscii() == 'HELLO'",
    "'a-b-c'.replace('-', '+') == 'a+b+c'",
    "'a,b,c'.split(',') == ['a', 'b', 'c']",
    "'hello'.substring(1, 3) == 'el'",
    "'  x  '.trim() == 'x'",
    "['a', 'b'].join('/') == 'a/b'",
    # regex
    "'abc 123'.find('[0-9]+') == '123'",
    "'abc'.find('[0-9]+') == ''",
    "'123 abc 456'.findAll('[0-9]+') == ['123', '456']",
    "'123 abc 456'.findAll('[0-9]+', 1) == ['123']",
    "'123 abc 456'.findAll('xyz') == []",
    # urls
    "url('https://example.com:80/path?k=v&k=w').getScheme() == 'https'",
    "url('https://example.com:80/path').getHost() == 'example.com:80'",
    "url('https://example.com:80/path').getHostname() == 'example.com'",
    "url('https://[::1]:80/path').getHostname() == '::1'",
    "url('https://[::1]:80/path').getPort() == '80'",
    "url('https://example.com/path').getPort() == ''",
    "url('https://example.com/with%20space').getEscapedPath() == '/with%20space'",
    "url('https://example.com/?k=v&k=w&x=').getQuery() == {'k': ['v', 'w'], 'x': ['']}",
    "url('/absolute-path').getScheme() == ''",
    "isURL('https://example.com')",
    "!isURL('example.com')",
    "!isURL('')",
    # quantity
    "isQuantity('20')",
    "isQuantity('1.5Gi')",
    "!isQuantity('20Mb')",
    "!isQuantity('')",
    "quantity('50M').isLessThan(quantity('50Mi'))",
    "quantity('50Mi').isGreaterThan(quantity('50M'))",
    "quantity('200M').compareTo(quantity('0.2G')) == 0",
    "quantity('50k').add(quantity('20')) == quantity('50.02k')",
    "quantity('50k').add(20) == quantity('50020')",
    "quantity('50k').sub(quantity('20')) == quantity('49.98k')",
    "quantity('50k').sub(20) == quantity('49980')",
    "quantity('50k').asInteger() == 50000",
    "quantity('50k').isInteger()",
    "!quantity('9999999999999999999999999999999999999G').isInteger()",
    "!quantity('50m').isInteger()",
    "quantity('50.703k').asApproximateFloat() == 50703.0",
    "quantity('-50k').sign() == -1",
    "quantity('0').sign() == 0",
    "quantity('1000m') == quantity('1')",
    # ip
    "isIP('192.168.0.1')",
    "isIP('::1')",
    "!isIP('192.168.0.1.0')",
    "!isIP('::ffff:192.168.0.1')",
    "!isIP('fe80::1%en0')",
    "ip('192.168.0.1').family() == 4",
    "ip('::1').family() == 6",
    "ip('127.0.0.1').isLoopback()",
    "ip('0.0.0.0').isUnspecified()",
    "ip('224.0.0.1').isLinkLocalMulticast()",
    "ip('ff02::1').isLinkLocalMulticast()",
    "ip('169.254.1.1').isLinkLocalUnicast()",
    "ip('fe80::1').isLinkLocalUnicast()",
    "ip('192.168.0.1').isGlobalUnicast()",
    "!ip('255.255.255.255').isGlobalUnicast()",
    "ip.isCanonical('2001:db8::1')",
    "!ip.isCanonical('2001:DB8::1')",
    "string(ip('2001:DB8::1')) == '2001:db8::1'",
    "ip('192.168.0.1') == ip('192.168.0.1')",
    # cidr
    "isCIDR('192.168.0.0/24')",
    "!isCIDR('192.168.0.0/33')",
    "!isCIDR('192.168.0.0')",
    "cidr('192.168.0.0/24').containsIP(ip('192.168.0.1'))",
    "cidr('192.168.0.0/24').containsIP('192.168.0.1')",
    "!cidr('192.168.0.0/24').containsIP(ip('192.168.1.1'))",
    "!cidr('192.168.0.0/24').containsIP(ip('::1'))",
    "cidr('192.168.0.0/16').containsCIDR(cidr('192.168.10.0/24'))",
    "cidr('192.168.0.0/16').containsCIDR('192.168.10.0/24')",
    "!cidr('192.168.0.0/24').containsCIDR('192.168.0.0/16')",
    "cidr('192.168.0.1/24').masked() == cidr('192.168.0.0/24')",
    "cidr('192.168.0.1/24').ip() == ip('192.168.0.1')",
    "cidr('192.168.0.0/24').prefixLength() == 24",
    # sets
    "sets.contains([1, 2, 3], [1, 2])",
    "!sets.contains([1], [1, 2])",
    "sets.equivalent([1, 2], [2, 1, 1])",
    "sets.intersects([1, 2], [2, 3])",
    "!sets.intersects([1], [true])",
    # optionals and bind
    "{'a': 1}.?a.orValue(0) == 1",
    "{'a': 1}.?b.orValue(5) == 5",
    "[1, 2][?5].orValue(0) == 0",
    "optional.none().hasValue() == false",
    "cel.bind(x, 2, x * x) == 4",
]


@pytest.mark.parametrize("source", TRUE_CASES)
def test_expression_is_true(source: str) -> None:
    assert runtime.evaluate(ENV.compile(source), {}) is True


RUNTIME_ERRORS = [
    ("[].min()", "min called on empty list"),
    ("[].max()", "max called on empty list"),
    ("quantity('20Mb')", "quantities must match the regular expression"),
    (
        "quantity('9999999999999999999999999999999999999G').asInteger()",
        "cannot convert value to integer",
    ),
    (
        "ip('192.168.0.1.0')",
        'IP Address "192.168.0.1.0" parse error during conversion from string: '
        'ParseAddr("192.168.0.1.0"): IPv4 address too long',
    ),
    ("ip('::ffff:1.2.3.4')", 'IPv4-mapped IPv6 address "::ffff:1.2.3.4" is not allowed'),
    ("ip('fe80::1%en0')", 'IP address "fe80::1%en0" with zone value is not allowed'),
    ("cidr('192.168.0.0')", "network address parse error during conversion from string"),
    ("url('example.com')", "URL parse error during conversion from string"),
    ("{'a': 1}.b == 1", "no such key: b"),
    ("1 / 0 == 1", "division by zero"),
    ("dyn('a').asInteger() == 1", "no such overload"),
]


@pytest.mark.parametrize(("source", "message"), RUNTIME_ERRORS)
def test_runtime_error(source: str, message: str) -> None:
    outcome: Any = runtime.evaluate(ENV.compile(source), {})
    assert isinstance(outcome, runtime.EvalError)
    assert outcome.message.startswith(message), outcome.message


COMPILE_ERRORS = [
    (
        "quantity('1') + 1",
        "found no matching overload for '_+_' applied to '(kubernetes.Quantity, int)'",
    ),
    ("ip('1.2.3.4').containsIP('1.2.3.4')", "found no matching overload for 'containsIP'"),
    ("[1, 2].isSorted(1)", "'isSorted'"),
    ("undefinedVar == 1", "undeclared reference to 'undefinedVar'"),
    ("1 +", "Syntax error"),
]


@pytest.mark.parametrize(("source", "message"), COMPILE_ERRORS)
def test_compile_error(source: str, message: str) -> None:
    with pytest.raises(CompileError) as raised:
        ENV.compile(source)
    assert raised.value.detail.startswith("ERROR: <input>:")
    assert message in raised.value.detail
