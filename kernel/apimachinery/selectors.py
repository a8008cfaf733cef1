"""Label and field selectors with kube's grammar, matching and error messages.

Mirrors k8s.io/apimachinery/pkg/labels/selector.go, pkg/fields/selector.go and
metav1.LabelSelectorAsSelector. Parse errors carry kube's text so the REST layer can answer
them as a 400 BadRequest unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import msgspec

from kernel.apimachinery.status import StatusError, bad_request
from kernel.apimachinery.validation import (
    FieldError, GoLiteral, aggregate_message, go_quote, is_label_value, is_qualified_name)


class SelectorError(ValueError):
    """A label or field selector that kube would reject; str() is kube's message."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def status_error(self) -> StatusError:
        return bad_request(self.message)


# --- label selector requirements --------------------------------------------------------

IN, NOT_IN, EQUALS, DOUBLE_EQUALS, NOT_EQUALS = "in", "notin", "=", "==", "!="
EXISTS, DOES_NOT_EXIST, GREATER_THAN, LESS_THAN = "exists", "!", "gt", "lt"
_BINARY = (IN, NOT_IN, EQUALS, DOUBLE_EQUALS, NOT_EQUALS, GREATER_THAN, LESS_THAN)
_INT64 = re.compile(r"[+-]?[0-9]+")


def _parse_int64(s: str) -> int | None:
    # strconv.ParseInt(s, 10, 64): optional sign, digits only, must fit in int64.
    if not _INT64.fullmatch(s):
        return None
    n = int(s)
    return n if -(2 ** 63) <= n < 2 ** 63 else None


def _key_error(key: str, path: str) -> FieldError | None:
    msgs = is_qualified_name(key)
    return FieldError.invalid(path, key, "; ".join(msgs)) if msgs else None


class Requirement(msgspec.Struct, frozen=True):
    """One ANDed term of a label selector; build it with new_requirement()."""

    key: str
    operator: str
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        op, present = self.operator, self.key in labels
        if op in (IN, EQUALS, DOUBLE_EQUALS):
            return present and labels[self.key] in self.values
        if op in (NOT_IN, NOT_EQUALS):
            return not present or labels[self.key] not in self.values
        if op == EXISTS:
            return present
        if op == DOES_NOT_EXIST:
            return not present
        if op in (GREATER_THAN, LESS_THAN) and present and len(self.values) == 1:
            have, want = _parse_int64(labels[self.key]), _parse_int64(self.values[0])
            if have is None or want is None:
                return False
            return have > want if op == GREATER_THAN else have < want
        return False

    def __str__(self) -> str:
        if self.operator == EXISTS:
            return self.key
        if self.operator == DOES_NOT_EXIST:
            return "!" + self.key
        values = ",".join(sorted(self.values))
        if self.operator in (IN, NOT_IN):
            return f"{self.key} {self.operator} ({values})"
        symbol = {GREATER_THAN: ">", LESS_THAN: "<"}.get(self.operator, self.operator)
        return f"{self.key}{symbol}{values}"


def new_requirement(key: str, operator: str, values: Iterable[str] = (), path: str = "") -> Requirement:
    """labels.NewRequirement: validates key, operator arity and values; errors aggregated."""
    values = list(values)
    prefix = f"{path}." if path else ""
    values_path = f"{prefix}values"
    shown = GoLiteral("[]string(nil)") if not values else values  # kube copies into a nil slice
    errs: list[FieldError] = []
    if err := _key_error(key, f"{prefix}key"):
        errs.append(err)
    if operator in (IN, NOT_IN):
        if not values:
            errs.append(FieldError.invalid(values_path, shown, "for 'in', 'notin' operators, values set can't be empty"))
    elif operator in (EQUALS, DOUBLE_EQUALS, NOT_EQUALS):
        if len(values) != 1:
            errs.append(FieldError.invalid(values_path, shown, "exact-match compatibility requires one single value"))
    elif operator in (EXISTS, DOES_NOT_EXIST):
        if values:
            errs.append(FieldError.invalid(values_path, shown, "values set must be empty for exists and does not exist"))
    elif operator in (GREATER_THAN, LESS_THAN):
        if len(values) != 1:
            errs.append(FieldError.invalid(values_path, shown, "for 'Gt', 'Lt' operators, exactly one value is required"))
        errs += [FieldError.invalid(f"{values_path}[{i}]", v, "for 'Gt', 'Lt' operators, the value must be an integer")
                 for i, v in enumerate(values) if _parse_int64(v) is None]
    else:
        errs.append(FieldError.not_supported(f"{prefix}operator", operator, [*_BINARY, EXISTS, DOES_NOT_EXIST]))
    for i, value in enumerate(values):
        if msgs := is_label_value(value):
            errs.append(FieldError.invalid(f"{values_path}[{i}][{key}]", value, "; ".join(msgs)))
    if errs:
        raise SelectorError(aggregate_message(errs))
    return Requirement(key, operator, tuple(values))


class LabelSelector(msgspec.Struct, frozen=True):
    """ANDed requirements; no requirements selects everything, ``nothing`` selects nothing."""

    requirements: tuple[Requirement, ...] = ()
    nothing: bool = False

    @classmethod
    def everything(cls) -> LabelSelector:
        return cls()

    @classmethod
    def match_nothing(cls) -> LabelSelector:
        return cls(nothing=True)

    @classmethod
    def parse(cls, selector: str) -> LabelSelector:
        return parse_label_selector(selector)

    @classmethod
    def from_dict(cls, selector: Mapping[str, Any] | None) -> LabelSelector:
        return label_selector_from_dict(selector)

    @property
    def empty(self) -> bool:
        return not self.nothing and not self.requirements

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        labels = labels or {}
        return not self.nothing and all(r.matches(labels) for r in self.requirements)

    def requires_exact_match(self, key: str) -> str | None:
        for r in self.requirements:
            if r.key == key:
                ok = r.operator in (EQUALS, DOUBLE_EQUALS, IN) and len(r.values) == 1
                return r.values[0] if ok else None
        return None

    def __str__(self) -> str:
        return ",".join(str(r) for r in self.requirements)


def _sorted(reqs: Iterable[Requirement]) -> tuple[Requirement, ...]:
    return tuple(sorted(reqs, key=lambda r: r.key))


def label_selector_from_dict(selector: Mapping[str, Any] | None) -> LabelSelector:
    """metav1.LabelSelectorAsSelector: null selects nothing, {} selects everything."""
    if selector is None:
        return LabelSelector.match_nothing()
    match_labels = selector.get("matchLabels") or {}
    expressions = selector.get("matchExpressions") or []
    operators = {"In": IN, "NotIn": NOT_IN, "Exists": EXISTS, "DoesNotExist": DOES_NOT_EXIST}
    reqs = [new_requirement(k, EQUALS, [v]) for k, v in match_labels.items()]
    for expr in expressions:
        op = expr.get("operator") or ""
        if op not in operators:
            raise SelectorError(f"{go_quote(op)} is not a valid label selector operator")
        reqs.append(new_requirement(expr.get("key") or "", operators[op], expr.get("values") or []))
    return LabelSelector(_sorted(reqs))


# --- label selector string parser -------------------------------------------------------

# A token's kind is its literal for keywords and operators, else one of these.
ERROR, EOS, IDENT = "error", "end", "identifier"
_TOKENS = frozenset({")", ",", "!", "==", "=", ">", "in", "<", "!=", "notin", "("})
_SPECIAL = set("=!(),><")
_SPACE = set(" \t\r\n")
_OPERATORS = {"in": IN, "notin": NOT_IN, "=": EQUALS, "==": DOUBLE_EQUALS, "!=": NOT_EQUALS,
              ">": GREATER_THAN, "<": LESS_THAN}


def _lex(s: str) -> list[tuple[str, str]]:
    """Tokens as (kind, literal). A NUL, like Go's read() returning 0, reads as end of input."""
    tokens: list[tuple[str, str]] = []
    pos, n = 0, len(s)

    def read() -> str:
        nonlocal pos
        if pos < n:
            pos += 1
            return s[pos - 1]
        return "\0"

    while True:
        ch = read()
        while ch in _SPACE:
            ch = read()
        if ch == "\0":
            tokens.append((EOS, ""))
            return tokens
        pos -= 1
        buf = ""
        if ch in _SPECIAL:  # longest run of specials that still forms an operator
            last: tuple[str, str] | None = None
            while (c := read()) != "\0":
                if c not in _SPECIAL:
                    pos -= 1
                    break
                buf += c
                if buf in _TOKENS:
                    last = (buf, buf)
                elif last is not None:
                    pos -= 1
                    break
            tokens.append(last or (ERROR, f"error expected: keyword found '{buf}'"))
        else:
            while (c := read()) != "\0":
                if c in _SPECIAL or c in _SPACE:
                    pos -= 1
                    break
                buf += c
            tokens.append((buf if buf in _TOKENS else IDENT, buf))


class _Parser:
    def __init__(self, selector: str) -> None:
        self.items = _lex(selector)
        self.pos = 0

    def _tok(self, i: int, values: bool) -> tuple[str, str]:
        kind, lit = self.items[i]
        # In a value position the keywords 'in' and 'notin' are plain identifiers.
        return (IDENT, lit) if values and kind in ("in", "notin") else (kind, lit)

    def peek(self, values: bool = True) -> tuple[str, str]:
        return self._tok(self.pos, values)

    def next(self, values: bool = True) -> tuple[str, str]:
        self.pos += 1
        return self._tok(self.pos - 1, values)

    def parse(self) -> list[Requirement]:
        reqs: list[Requirement] = []
        while True:
            kind, lit = self.peek()
            if kind == EOS:
                return reqs
            if kind not in (IDENT, "!"):
                raise SelectorError(f"found '{lit}', expected: !, identifier, or 'end of string'")
            try:
                reqs.append(self.requirement())
            except SelectorError as e:
                raise SelectorError(f"unable to parse requirement: {e}") from None
            kind, lit = self.next()
            if kind == EOS:
                return reqs
            if kind != ",":
                raise SelectorError(f"found '{lit}', expected: ',' or 'end of string'")
            kind, lit = self.peek()
            if kind not in (IDENT, "!"):
                raise SelectorError(f"found '{lit}', expected: identifier after ','")

    def requirement(self) -> Requirement:
        operator = ""
        kind, key = self.next()
        if kind == "!":
            operator = DOES_NOT_EXIST
            kind, key = self.next()
        if kind != IDENT:
            raise SelectorError(f"found '{key}', expected: identifier")
        if err := _key_error(key, "<nil>"):  # kube parses with a nil field path
            raise SelectorError(str(err))
        if operator != DOES_NOT_EXIST and self.peek()[0] in (EOS, ","):
            operator = EXISTS
        if operator:
            return new_requirement(key, operator)
        kind, lit = self.next(values=False)
        if kind not in _OPERATORS:
            raise SelectorError(f"found '{lit}', expected: {', '.join(_BINARY)}")
        operator = _OPERATORS[kind]
        values = self.set_values() if operator in (IN, NOT_IN) else self.exact_value()
        return new_requirement(key, operator, sorted(values))

    def set_values(self) -> set[str]:
        kind, lit = self.next()
        if kind != "(":
            raise SelectorError(f"found '{lit}' expected: '('")
        kind, lit = self.peek()
        if kind == ")":
            self.next()
            return {""}
        if kind not in (IDENT, ","):
            raise SelectorError(f"found '{lit}', expected: ',', ')' or identifier")
        values: set[str] = set()
        while True:  # a possibly empty, comma-separated list: "(a,,b)" and "(,)" mean ""
            kind, lit = self.next()
            if kind == IDENT:
                values.add(lit)
                kind2, lit2 = self.peek()
                if kind2 == ")":
                    self.next()
                    return values
                if kind2 != ",":
                    raise SelectorError(f"found '{lit2}', expected: ',' or ')'")
            elif kind == ",":
                if not values or self.peek()[0] in (")", ","):
                    values.add("")
                if self.peek()[0] == ")":
                    self.next()
                    return values
            else:
                raise SelectorError(f"found '{lit}', expected: ',', or identifier")

    def exact_value(self) -> set[str]:
        if self.peek()[0] in (EOS, ","):
            return {""}
        kind, lit = self.next()
        if kind != IDENT:
            raise SelectorError(f"found '{lit}', expected: identifier")
        return {lit}


def parse_label_selector(selector: str) -> LabelSelector:
    """labels.Parse: the ``labelSelector`` query parameter; "" selects everything."""
    return LabelSelector(_sorted(_Parser(selector).parse()))


# --- field selectors --------------------------------------------------------------------

DEFAULT_FIELDS = frozenset({"metadata.name", "metadata.namespace"})
TransformFunc = Callable[[str, str], tuple[str, str]]


def escape_field_value(value: str) -> str:
    return value.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=")


def unescape_field_value(value: str) -> str:
    if not any(c in value for c in "\\,="):
        return value
    out, escaped = [], False
    for c in value:
        if escaped:
            if c not in "\\,=":
                raise SelectorError(f"invalid field selector: invalid escape sequence: \\{c}")
            out.append(c)
            escaped = False
        elif c == "\\":
            escaped = True
        elif c in ",=":  # Go prints the offending rune as its code point
            raise SelectorError(f"invalid field selector: unescaped character in value: {ord(c)}")
        else:
            out.append(c)
    if escaped:
        raise SelectorError("invalid field selector: invalid escape sequence: \\")
    return "".join(out)


class FieldTerm(msgspec.Struct, frozen=True):
    field: str
    value: str
    negated: bool = False

    def matches(self, fields: Mapping[str, str]) -> bool:
        return (fields.get(self.field, "") == self.value) != self.negated

    def __str__(self) -> str:
        return f"{self.field}{'!=' if self.negated else '='}{escape_field_value(self.value)}"


class FieldSelector(msgspec.Struct, frozen=True):
    """ANDed field terms; no terms selects everything."""

    terms: tuple[FieldTerm, ...] = ()

    @classmethod
    def parse(cls, selector: str) -> FieldSelector:
        return parse_field_selector(selector)

    @property
    def empty(self) -> bool:
        return not self.terms

    def matches(self, fields: Mapping[str, str]) -> bool:
        return all(t.matches(fields) for t in self.terms)

    def requires_exact_match(self, field: str) -> str | None:
        return next((t.value for t in self.terms if t.field == field and not t.negated), None)

    def transform(self, fn: TransformFunc) -> FieldSelector:
        """Rewrite every term; fn raises SelectorError to reject one, and a term mapped to
        ("", "") is dropped (fields.Selector.Transform)."""
        terms = []
        for t in self.terms:
            field, value = fn(t.field, t.value)
            if field or value:
                terms.append(FieldTerm(field, value, t.negated))
        return FieldSelector(tuple(terms))

    def validate(self, supported: Iterable[str] | None = None) -> FieldSelector:
        """Reject fields the resource does not index, as kube's field label conversion does.

        ``supported`` is a kind's registered field labels (Pod, Secret, CRDs...), rejected
        with "field label not supported". None is a kind without any (ConfigMap, RBAC...):
        kube's default conversion allows only name and namespace and words it differently."""
        allowed = DEFAULT_FIELDS if supported is None else frozenset(supported)

        def check(field: str, value: str) -> tuple[str, str]:
            if field in allowed:
                return field, value
            if supported is None:
                raise SelectorError(f"{go_quote(field)} is not a known field selector: "
                                    'only "metadata.name", "metadata.namespace"')
            raise SelectorError(f"field label not supported: {field}")
        return self.transform(check)

    def __str__(self) -> str:
        return ",".join(str(t) for t in self.terms)


def _split_terms(selector: str) -> list[str]:
    # Commas split terms unless backslash-escaped; the backslash stays for unescaping later.
    terms, start, escaped = [], 0, False
    for i, c in enumerate(selector):
        if escaped:
            escaped = False
        elif c == "\\":
            escaped = True
        elif c == ",":
            terms.append(selector[start:i])
            start = i + 1
    terms.append(selector[start:])
    return terms


def parse_field_selector(selector: str) -> FieldSelector:
    """fields.ParseSelector: the ``fieldSelector`` query parameter; "" selects everything."""
    terms = []
    for part in sorted(_split_terms(selector)) if selector else []:
        if not part:
            continue
        # No escaping on the left: the first operator found splits the term.
        match = re.search("!=|==|=", part)
        if not match:
            raise SelectorError(f"invalid selector: '{selector}'; can't understand '{part}'")
        value = unescape_field_value(part[match.end():])
        terms.append(FieldTerm(part[:match.start()], value, match.group() == "!="))
    return FieldSelector(tuple(terms))


def object_fields(obj: Mapping[str, Any],
                  extra: Callable[[Mapping[str, Any]], Mapping[str, str]] | None = None) -> dict[str, str]:
    """The field set a field selector is matched against: name, namespace and the
    resource's own selectable fields (e.g. a Pod's ``spec.nodeName``)."""
    meta = obj.get("metadata") or {}
    fields = {"metadata.name": meta.get("name") or "", "metadata.namespace": meta.get("namespace") or ""}
    if extra is not None:
        fields.update(extra(obj))
    return fields
