"""kube's CEL libraries, with expressions and results from kube's library tests and docs
(k8s.io/apiserver/pkg/cel/library/*_test.go)."""

from __future__ import annotations

import pytest

from kernel_cel import DYN, CompileError, Environment, EvalError

ENV = Environment(variables={"self": DYN}, library="crd")
SELF = {"a": 1, "b": {"c": 3}, "names": ["x", "y"]}


def run(expression: str):
    return ENV.compile(expression).eval({"self": SELF})


CASES = [
    # quantity_test.go
    ('quantity("12Mi").asInteger()', 12 * 1024 * 1024),
    ('isQuantity("20")', True), ('isQuantity("20M")', True), ('isQuantity("20Mi")', True),
    ('isQuantity("20Mo")', False), ('isQuantity("10Mm")', False),
    ('quantity("200M") == quantity("200M")', True),
    ('quantity("200M") == quantity("0.2G") && quantity("0.2G") == quantity("200M")', True),
    ('quantity("2M") == quantity("0.002G") && quantity("2000k") == quantity("2M")', True),
    ('quantity("200M") == quantity("0.3G")', False),
    ('quantity("50M").isLessThan(quantity("50Mi"))', True),
    ('quantity("100M").isLessThan(quantity("50M"))', False),
    ('quantity("50Mi").isGreaterThan(quantity("50M"))', True),
    ('quantity("200M").compareTo(quantity("0.2G"))', 0),
    ('quantity("50M").compareTo(quantity("50Mi"))', -1),
    ('quantity("50Mi").compareTo(quantity("50M"))', 1),
    ('quantity("50k").add(quantity("20")) == quantity("50.02k")', True),
    ('quantity("50k").add(20).isLessThan(quantity("50020"))', False),
    ('quantity("50k").sub(quantity("20")) == quantity("49.98k")', True),
    ('quantity("50k").sub(20) == quantity("49980")', True),
    ('quantity("50k").add(20).sub(quantity("100k")).asInteger()', -49980),
    ('quantity("50k").add(20).sub(quantity("100k")).sub(-50000).asInteger()', 20),
    ('quantity("50k").asInteger()', 50000),
    ('quantity("9999999999999999999999999999999999999G").isInteger()', False),
    ('quantity("50").isInteger()', True),
    ('quantity("50.703k").asApproximateFloat()', 50703.0),
    ('quantity("-1").sign()', -1),
    # lists_test.go
    ("[].isSorted()", True), ("[1, 2, 3].isSorted()", True), ("[3, 1].isSorted()", False),
    ('["a", "b"].isSorted()', True), ("[1, 2].sum()", 3), ("[1.5, 2.0].sum()", 3.5), ("[].sum()", 0),
    ("[1, 3, 2].max()", 3), ("[1, 3, 2].min()", 1), ('["b", "a"].min()', "a"),
    ("[1, 2, 2, 3].indexOf(2)", 1), ("[1, 2, 2, 3].lastIndexOf(2)", 2), ("[1, 2].indexOf(9)", -1),
    # regex_test.go
    ('"abc 123".find("[0-9]+")', "123"), ('"abc".find("[0-9]+")', ""),
    ('"123 abc 456".findAll("[0-9]+")', ["123", "456"]),
    ('"123 abc 456".findAll("[0-9]+", 1)', ["123"]), ('"123 abc 456".findAll("[0-9]+", 0)', []),
    # urls_test.go
    ('url("https://example.com:80/path?query=val#fragment").getScheme()', "https"),
    ('url("https://example.com:80/path").getHost()', "example.com:80"),
    ('url("https://[::1]:80/path").getHostname()', "::1"),
    ('url("https://example.com:80/path").getPort()', "80"),
    ('url("https://example.com/path with spaces/").getEscapedPath()', "/path with spaces/"),
    ('url("https://example.com/path?k1=a&k2=b&k2=c").getQuery()', {"k1": ["a"], "k2": ["b", "c"]}),
    ('isURL("https://example.com")', True), ('isURL("example.com")', False), ('isURL("/absolute-path")', True),
    # ip_test.go, cidr_test.go
    ('ip("192.168.0.1").family()', 4), ('ip("2001:db8::68").family()', 6),
    ('isIP("192.168.0.1")', True), ('isIP("192.168.0.1.0")', False), ('isIP("010.0.0.1")', False),
    ('ip.isCanonical("2001:db8::68")', True), ('ip.isCanonical("2001:DB8::68")', False),
    ('ip("0.0.0.0").isUnspecified()', True), ('ip("127.0.0.1").isLoopback()', True),
    ('ip("224.0.0.1").isLinkLocalMulticast()', True), ('ip("ff02::1").isLinkLocalMulticast()', True),
    ('ip("169.254.169.254").isLinkLocalUnicast()', True), ('ip("192.168.0.1").isGlobalUnicast()', True),
    ('ip("255.255.255.255").isGlobalUnicast()', False),
    ('cidr("192.168.0.0/24").containsIP(ip("192.168.0.1"))', True),
    ('cidr("192.168.0.0/24").containsIP("192.168.1.1")', False),
    ('cidr("192.168.0.0/16").containsCIDR(cidr("192.168.10.0/24"))', True),
    ('cidr("192.168.0.0/24").containsCIDR("192.168.0.0/16")', False),
    ('cidr("192.168.0.1/24").masked() == cidr("192.168.0.0/24")', True),
    ('cidr("192.168.0.1/24").ip() == ip("192.168.0.1")', True),
    ('cidr("192.168.0.0/24").prefixLength()', 24), ('isCIDR("192.168.0.0/24")', True),
    ('isCIDR("192.168.0.0")', False),
    # format_test.go
    ('format.dns1123Label().validate("my-label-name")', None),
    ('format.dns1123Label().validate("Invalid").hasValue()', True),
    ('format.named("dns1123Label").hasValue()', True), ('format.named("nope").hasValue()', False),
    ('format.named("uuid").value().validate("123e4567-e89b-12d3-a456-426614174000").hasValue()', False),
    ('format.uuid().validate("x").value()', ["does not match the UUID format"]),
    ('format.byte().validate("aGVsbG8=").hasValue()', False),
    ('format.date().validate("2021-01-01").hasValue()', False),
    ('format.date().validate("2021-13-01").value()', ["invalid date"]),
    ('format.labelValue().validate("ok").hasValue()', False),
    # cel-go sets extension
    ("sets.contains([1, 2, 3], [2, 3])", True), ("sets.contains([1, 2], [3])", False),
    ("sets.equivalent([1, 2], [2, 1, 1])", True), ("sets.intersects([1], [2])", False),
    # cel-go strings extension, version 2
    ('"hello".charAt(1)', "e"), ('"hello".charAt(5)', ""), ('"hello mellow".indexOf("ello")', 1),
    ('"hello mellow".indexOf("ello", 2)', 7), ('"hello mellow".lastIndexOf("ello")', 7),
    ('"TacoCat".lowerAscii()', "tacocat"), ('"TacoCat".upperAscii()', "TACOCAT"),
    ('"hello hello".replace("he", "we")', "wello wello"), ('"hello hello".replace("he", "we", 1)', "wello hello"),
    ('"hello world".split(" ")', ["hello", "world"]), ('"a,b,c".split(",", 2)', ["a", "b,c"]),
    ('"tacocat".substring(4)', "cat"), ('"tacocat".substring(0, 4)', "taco"), ('"  \\ttrim\\n ".trim()', "trim"),
    ('["a", "b"].join()', "ab"), ('["a", "b"].join("-")', "a-b"), ('strings.quote("a\\nb")', '"a\\nb"'),
    ('"%s, %d, %.2f, %x".format(["x", 3, 1.5, 255])', "x, 3, 1.50, ff"),
    # semver_test.go (kube's semver library, version 1)
    ('semver("1.2.3").major()', 1), ('semver("1.2.3").minor()', 2), ('semver("1.2.3").patch()', 3),
    ('isSemver("1.2.3-beta.1+build.1")', True), ('isSemver("")', False), ('isSemver("v1.0.0")', False),
    ('isSemver(" 1.0.0")', False), ('isSemver("1. 0.0")', False), ('isSemver("1.0.0 ")', False),
    ('isSemver("01.01.01")', False), ('isSemver("1")', False), ('isSemver("1.1")', False),
    ('isSemver("", true)', False), ('isSemver(" 1.0.0", true)', False), ('isSemver("v1.0.0", true)', True),
    ('isSemver("01.01.01", true)', True), ('isSemver("1", true)', True), ('isSemver("1.1", true)', True),
    ('semver("v01.01", true) == semver("1.1.0")', True), ('semver("1.2.3") == semver("1.2.3")', True),
    ('semver("1.2.3") == semver("1.0.0")', False), ('semver("1.0.0").isLessThan(semver("1.2.3"))', True),
    ('semver("1.0.0").isLessThan(semver("1.0.0"))', False), ('semver("1.2.3").isGreaterThan(semver("1.0.0"))', True),
    ('semver("1.0.0").compareTo(semver("1.2.3"))', -1), ('semver("1.0.0-alpha").compareTo(semver("1.0.0"))', -1),
    # cel-go's lists extension, version 3
    ("lists.range(3)", [0, 1, 2]), ("[1, 2, 1].distinct()", [1, 2]), ("[[1], [2, [3]]].flatten()", [1, 2, [3]]),
    ("[[1], [2, [3]]].flatten(2)", [1, 2, 3]), ("[1, 2, 3].reverse()", [3, 2, 1]),
    ("[1, 2, 3, 4].slice(1, 3)", [2, 3]), ("[3, 1, 2].sort()", [1, 2, 3]), ('["b", "a"].sort()', ["a", "b"]),
    # optional types and cel.bind, as kube's environment enables them
    ("self.?a.orValue(5)", 1), ("self.?z.orValue(5)", 5), ("self.?b.c.orValue(7)", 3),
    ('{"a": 1}.?b.hasValue()', False), ("cel.bind(x, 2, x * x)", 4),
]


@pytest.mark.parametrize("expression, expected", CASES, ids=[c[0] for c in CASES])
def test_library_function(expression, expected):
    result = run(expression)
    assert result == expected and type(result) is type(expected)


ERRORS = [
    ('quantity("10Mo")', "quantities must match the regular expression "
                         "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"),
    ('quantity("10Mm")', "unable to parse quantity's suffix"),
    ('quantity("9999999999999999999999999999999999999G").asInteger()', "cannot convert value to integer"),
    ("[].max()", "max called on empty list"), ("[].min()", "min called on empty list"),
    ('"a".find("[")', "Illegal regex: "),
    ('url("example.com")', 'URL parse error during conversion from string: parse "example.com": invalid URI for request'),
    ('ip("::ffff:1.2.3.4")', 'IPv4-mapped IPv6 address "::ffff:1.2.3.4" is not allowed'),
    ('ip("fe80::1%eth0")', 'IP address "fe80::1%eth0" with zone value is not allowed'),
    ('cidr("::ffff:1.2.3.4/120")', 'IPv4-mapped IPv6 address "::ffff:1.2.3.4/120" is not allowed'),
    ('"hello".charAt(6)', "index out of range: 6"),
    ('"tacocat".substring(4, 2)', "invalid substring range. start: 4, end: 2"),
    ('semver("v1.0")', "No Major.Minor.Patch elements found"),
    ("[1, 2].slice(2, 1)", "cannot slice(2, 1), start index must be less than or equal to end index"),
]


@pytest.mark.parametrize("expression, message", ERRORS, ids=[c[0] for c in ERRORS])
def test_library_error(expression, message):
    with pytest.raises(EvalError) as error:
        run(expression)
    assert str(error.value).startswith(message)


def test_checker_knows_the_signatures():
    """Typed overloads, as kube declares them: a wrong argument type is a compile error."""
    for expression in ('quantity(1)', '[1, 2].indexOf("a")', 'ip("1.2.3.4").prefixLength()', '"a".find(1)'):
        with pytest.raises(CompileError, match="found no matching overload"):
            ENV.compile(expression)
    assert ENV.compile("[1, 2].sum()").result_type == "int"
    assert ENV.compile("[1.0].max()").result_type == "double"
    assert ENV.compile('quantity("1").isInteger()', result="bool").result_type == "bool"


def test_optional_results_in_any_position():
    """``validate``'s optional inside other expressions (strings, brackets, chains)."""
    expression = ('[format.dns1123Label().validate("A_b").orValue([]).size(), '
                  '(format.named("uuid").value()).validate("x").value().size()] == [1, 1] '
                  '&& "x.validate(" != ""')
    assert run(expression) is True
