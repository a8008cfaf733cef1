"""Label and field selectors: parsing, kube's error texts, matching truth tables."""

from __future__ import annotations

import pytest

from kernel.apimachinery.selectors import (
    DEFAULT_FIELDS, FieldSelector, LabelSelector, SelectorError, escape_field_value, new_requirement,
    object_fields, parse_field_selector, parse_label_selector, unescape_field_value)

LABEL_VALUE = ("a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or "
               "'.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  "
               "or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')")
NAME_PART = ("name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end "
             "with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "
             "validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')")
OPS = "in, notin, =, ==, !=, gt, lt"


@pytest.mark.parametrize("selector, canonical", [
    ("", ""),
    ("   ", ""),
    ("a=b", "a=b"),
    ("a==b", "a==b"),
    ("a!=b", "a!=b"),
    ("a", "a"),
    ("!a", "!a"),
    ("  a  =  b  ", "a=b"),
    ("a=", "a="),
    ("a=,b", "a=,b"),
    ("z,a=b,m notin (y,x)", "a=b,m notin (x,y),z"),   # sorted by key, values sorted
    ("x in (foo,,baz),y,z notin ()", "x in (,baz,foo),y,z notin ()"),
    ("x in (a,a,b)", "x in (a,b)"),
    ("x in (,)", "x in ()"),
    ("x in(a)", "x in (a)"),
    ("in in (in,notin)", "in in (in,notin)"),        # keywords are plain words in value positions
    ("notin=in", "notin=in"),
    ("example.com/tier in (front-end)", "example.com/tier in (front-end)"),
    ("n>5,m<10", "m<10,n>5"),
    ("a=b \x00 junk", "a=b"),  # Go's lexer reads a NUL between tokens as the end of input
])
def test_parse_label_selector(selector: str, canonical: str) -> None:
    assert str(parse_label_selector(selector)) == canonical


@pytest.mark.parametrize("selector, message", [
    ("a b", f"unable to parse requirement: found 'b', expected: {OPS}"),
    ("a (x)", f"unable to parse requirement: found '(', expected: {OPS}"),
    ("a=b c", "found 'c', expected: ',' or 'end of string'"),
    ("a=b\x00c", "found 'c', expected: ',' or 'end of string'"),  # ...but a NUL ending a word separates
    ("!a=b", "found '=', expected: ',' or 'end of string'"),
    (",", "found ',', expected: !, identifier, or 'end of string'"),
    ("=a", "found '=', expected: !, identifier, or 'end of string'"),
    ("a,", "found '', expected: identifier after ','"),
    ("a=b,,c", "found ',', expected: identifier after ','"),
    ("!", "unable to parse requirement: found '', expected: identifier"),
    ("!=a", "found '!=', expected: !, identifier, or 'end of string'"),
    ("a in b", "unable to parse requirement: found 'b' expected: '('"),
    ("a in (b", "unable to parse requirement: found '', expected: ',' or ')'"),
    ("a in (b c)", "unable to parse requirement: found 'c', expected: ',' or ')'"),
    ("a in (b,", "unable to parse requirement: found '', expected: ',', or identifier"),
    ("a in (=)", "unable to parse requirement: found '=', expected: ',', ')' or identifier"),
    ("a in (b,=)", "unable to parse requirement: found '=', expected: ',', or identifier"),
    ("a=(", "unable to parse requirement: found '(', expected: identifier"),
    ("-a", f'unable to parse requirement: <nil>: Invalid value: "-a": {NAME_PART}'),
    ("a=-b", f'unable to parse requirement: values[0][a]: Invalid value: "-b": {LABEL_VALUE}'),
    ("a in (ok,-x,-y)", ("unable to parse requirement: ["
     f'values[0][a]: Invalid value: "-x": {LABEL_VALUE}, values[1][a]: Invalid value: "-y": {LABEL_VALUE}]')),
    ("a>b", ("unable to parse requirement: values[0]: Invalid value: \"b\": "
     "for 'Gt', 'Lt' operators, the value must be an integer")),
    ("a>99999999999999999999", ("unable to parse requirement: values[0]: Invalid value: "
     "\"99999999999999999999\": for 'Gt', 'Lt' operators, the value must be an integer")),
])
def test_label_selector_errors(selector: str, message: str) -> None:
    with pytest.raises(SelectorError) as info:
        parse_label_selector(selector)
    assert str(info.value) == message
    status = info.value.status_error()
    assert (status.code, status.reason, status.message) == (400, "BadRequest", message)


LABELS = [{}, {"a": "b"}, {"a": "c"}, {"a": ""}, {"x": "b"}, {"a": "b", "x": "y"}, {"n": "5"}, {"n": "x"}]


@pytest.mark.parametrize("selector, expected", [
    ("", [1, 1, 1, 1, 1, 1, 1, 1]),
    ("a=b", [0, 1, 0, 0, 0, 1, 0, 0]),
    ("a==b", [0, 1, 0, 0, 0, 1, 0, 0]),
    ("a!=b", [1, 0, 1, 1, 1, 0, 1, 1]),     # absent key satisfies !=
    ("a in (b,c)", [0, 1, 1, 0, 0, 1, 0, 0]),
    ("a notin (b)", [1, 0, 1, 1, 1, 0, 1, 1]),
    ("a", [0, 1, 1, 1, 0, 1, 0, 0]),
    ("!a", [1, 0, 0, 0, 1, 0, 1, 1]),
    ("a=", [0, 0, 0, 1, 0, 0, 0, 0]),
    ("a in ()", [0, 0, 0, 1, 0, 0, 0, 0]),
    ("a=b,x", [0, 0, 0, 0, 0, 1, 0, 0]),
    ("a,!x", [0, 1, 1, 1, 0, 0, 0, 0]),
    ("n>4", [0, 0, 0, 0, 0, 0, 1, 0]),      # non-integer label values never compare
    ("n>5", [0, 0, 0, 0, 0, 0, 0, 0]),
    ("n<6", [0, 0, 0, 0, 0, 0, 1, 0]),
])
def test_label_matching_truth_table(selector: str, expected: list[int]) -> None:
    sel = parse_label_selector(selector)
    assert [int(sel.matches(labels)) for labels in LABELS] == expected


def test_label_selector_everything_nothing_and_exact_match() -> None:
    assert LabelSelector.everything().empty and LabelSelector.everything().matches(None)
    nothing = LabelSelector.match_nothing()
    assert not nothing.empty and not nothing.matches({}) and not nothing.matches({"a": "b"})
    assert not parse_label_selector("a").empty
    sel = parse_label_selector("a=b,c in (d),e in (f,g),h!=i,j")
    assert [sel.requires_exact_match(k) for k in "acehjz"] == ["b", "d", None, None, None, None]
    assert LabelSelector.parse("a==b").requires_exact_match("a") == "b"


@pytest.mark.parametrize("selector, canonical", [
    ({}, ""),
    ({"matchLabels": {"b": "2", "a": "1"}}, "a=1,b=2"),
    ({"matchExpressions": [{"key": "t", "operator": "In", "values": ["y", "x"]},
                           {"key": "e", "operator": "Exists"},
                           {"key": "d", "operator": "DoesNotExist"},
                           {"key": "n", "operator": "NotIn", "values": ["z"]}]}, "!d,e,n notin (z),t in (x,y)"),
    ({"matchLabels": {"a": "1"}, "matchExpressions": [{"key": "a", "operator": "NotIn", "values": ["2"]}]},
     "a=1,a notin (2)"),
])
def test_label_selector_from_dict(selector: dict, canonical: str) -> None:
    assert str(LabelSelector.from_dict(selector)) == canonical


def test_label_selector_from_dict_semantics() -> None:
    assert LabelSelector.from_dict(None).matches({}) is False   # null selects nothing
    assert LabelSelector.from_dict({}).matches({"x": "y"})       # empty selects everything
    sel = LabelSelector.from_dict({"matchLabels": {"app": "web"},
                                   "matchExpressions": [{"key": "tier", "operator": "In", "values": ["a", "b"]}]})
    assert sel.matches({"app": "web", "tier": "b"})
    assert not sel.matches({"app": "web", "tier": "c"})
    assert not sel.matches({"tier": "a"})


@pytest.mark.parametrize("selector, message", [
    ({"matchExpressions": [{"key": "a", "operator": "Equals", "values": ["b"]}]},
     '"Equals" is not a valid label selector operator'),
    ({"matchExpressions": [{"key": "a", "operator": "In"}]},
     "values: Invalid value: []string(nil): for 'in', 'notin' operators, values set can't be empty"),
    ({"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["b", "c"]}]},
     'values: Invalid value: []string{"b", "c"}: values set must be empty for exists and does not exist'),
    ({"matchLabels": {"-a": "b"}}, f'key: Invalid value: "-a": {NAME_PART}'),
    ({"matchLabels": {"a": "-b"}}, f'values[0][a]: Invalid value: "-b": {LABEL_VALUE}'),
    ({"matchExpressions": [{"key": "-k", "operator": "NotIn"}]},
     (f'[key: Invalid value: "-k": {NAME_PART}, '
     "values: Invalid value: []string(nil): for 'in', 'notin' operators, values set can't be empty]")),
])
def test_label_selector_from_dict_errors(selector: dict, message: str) -> None:
    with pytest.raises(SelectorError) as info:
        LabelSelector.from_dict(selector)
    assert str(info.value) == message


def test_new_requirement_rejects_unknown_operator_and_arity() -> None:
    with pytest.raises(SelectorError, match=r'^operator: Unsupported value: "~": supported values: "in", '):
        new_requirement("a", "~", ["b"])
    with pytest.raises(SelectorError) as info:
        new_requirement("a", "=", ["b", "c"], path="spec.selector")
    assert str(info.value) == ('spec.selector.values: Invalid value: []string{"b", "c"}: '
                               "exact-match compatibility requires one single value")


# --- field selectors ----------------------------------------------------------------------

@pytest.mark.parametrize("selector, terms", [
    ("", []),
    (",", []),
    ("metadata.name=foo", [("metadata.name", "foo", False)]),
    ("metadata.name==foo", [("metadata.name", "foo", False)]),
    ("metadata.name!=foo", [("metadata.name", "foo", True)]),
    ("metadata.name=", [("metadata.name", "", False)]),
    ("b=2,a!=1", [("a", "1", True), ("b", "2", False)]),             # terms are sorted
    (r"a=x\,y,b=p\=q", [("a", "x,y", False), ("b", "p=q", False)]),  # escaped comma and equals
    (r"a=back\\slash", [("a", "back\\slash", False)]),
    ("a b=c d", [("a b", "c d", False)]),                            # whitespace is data
    ("a!b=c", [("a!b", "c", False)]),                                # first operator splits
])
def test_parse_field_selector(selector: str, terms: list[tuple[str, str, bool]]) -> None:
    parsed = parse_field_selector(selector)
    assert [(t.field, t.value, t.negated) for t in parsed.terms] == terms
    assert parsed.empty == (not terms)


@pytest.mark.parametrize("selector, message", [
    ("foo", "invalid selector: 'foo'; can't understand 'foo'"),
    ("a=b,foo", "invalid selector: 'a=b,foo'; can't understand 'foo'"),
    ("a=b=c", "invalid field selector: unescaped character in value: 61"),
    ("a==b==c", "invalid field selector: unescaped character in value: 61"),
    (r"a=b\x", r"invalid field selector: invalid escape sequence: \x"),
    ("a=b\\", "invalid field selector: invalid escape sequence: \\"),
])
def test_field_selector_errors(selector: str, message: str) -> None:
    with pytest.raises(SelectorError) as info:
        parse_field_selector(selector)
    assert str(info.value) == message


def test_field_value_escaping_round_trips() -> None:
    for raw in ["plain", "a,b", "a=b", "a\\b", "\\,=\\"]:
        assert unescape_field_value(escape_field_value(raw)) == raw
        assert parse_field_selector(f"f={escape_field_value(raw)}").requires_exact_match("f") == raw
    assert str(parse_field_selector(r"b!=x\,y,a=1")) == r"a=1,b!=x\,y"


FIELDS = [{}, {"metadata.name": "a"}, {"metadata.name": "b"},
          {"metadata.name": "a", "metadata.namespace": "ns"}, {"metadata.name": ""}]


@pytest.mark.parametrize("selector, expected", [
    ("", [1, 1, 1, 1, 1]),
    ("metadata.name=a", [0, 1, 0, 1, 0]),
    ("metadata.name!=a", [1, 0, 1, 0, 1]),
    ("metadata.name=", [1, 0, 0, 0, 1]),     # a missing field reads as ""
    ("metadata.name=a,metadata.namespace=ns", [0, 0, 0, 1, 0]),
    ("metadata.name!=a,metadata.name!=b", [1, 0, 0, 0, 1]),
])
def test_field_matching_truth_table(selector: str, expected: list[int]) -> None:
    sel = parse_field_selector(selector)
    assert [int(sel.matches(f)) for f in FIELDS] == expected


def test_field_requires_exact_match() -> None:
    sel = FieldSelector.parse("metadata.namespace!=x,metadata.name=web,spec.nodeName==n1")
    assert sel.requires_exact_match("metadata.name") == "web"
    assert sel.requires_exact_match("spec.nodeName") == "n1"
    assert sel.requires_exact_match("metadata.namespace") is None
    assert sel.requires_exact_match("status.phase") is None


def test_field_selector_validate_registered_labels() -> None:
    sel = parse_field_selector("metadata.name=a,spec.nodeName=n")
    pod_fields = DEFAULT_FIELDS | {"spec.nodeName"}
    assert sel.validate(pod_fields) == sel
    with pytest.raises(SelectorError) as info:
        sel.validate(DEFAULT_FIELDS)
    assert str(info.value) == "field label not supported: spec.nodeName"
    assert info.value.status_error().code == 400
    # cluster-scoped custom resources do not index metadata.namespace
    with pytest.raises(SelectorError, match="^field label not supported: metadata.namespace$"):
        parse_field_selector("metadata.namespace=x").validate({"metadata.name"})


def test_field_selector_validate_default_conversion() -> None:
    # kinds without registered field labels accept name and namespace, even cluster-scoped ones
    sel = parse_field_selector("metadata.namespace=x,metadata.name=y")
    assert sel.validate() == sel
    with pytest.raises(SelectorError) as info:
        parse_field_selector("metadata.name=a,data.key=v").validate()
    assert str(info.value) == '"data.key" is not a known field selector: only "metadata.name", "metadata.namespace"'


def test_field_selector_transform() -> None:
    sel = parse_field_selector("metadata.name=a,spec.host=n")
    # a transform may rename fields (legacy aliases) or drop a term by mapping it to ("", "")
    renamed = sel.transform(lambda f, v: ("spec.nodeName", v) if f == "spec.host" else ("", ""))
    assert str(renamed) == "spec.nodeName=n"
    assert sel.transform(lambda f, v: ("", "")).empty


def test_object_fields() -> None:
    pod = {"metadata": {"name": "p", "namespace": "ns"}, "spec": {"nodeName": "n1"}}
    assert object_fields(pod) == {"metadata.name": "p", "metadata.namespace": "ns"}
    extra = object_fields(pod, lambda o: {"spec.nodeName": o["spec"].get("nodeName", "")})
    assert extra == {"metadata.name": "p", "metadata.namespace": "ns", "spec.nodeName": "n1"}
    assert object_fields({"metadata": {"name": "node1"}}) == {"metadata.name": "node1", "metadata.namespace": ""}
    assert parse_field_selector("spec.nodeName=n1,metadata.name=p").matches(extra)
    assert not parse_field_selector("spec.nodeName=n2").matches(extra)
