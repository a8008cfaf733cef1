"""x-kubernetes-validations compiled once per CRD version (apiextensions-apiserver
pkg/apiserver/schema/cel/compilation.go, and the rule checks of pkg/apis/apiextensions/validation).

:func:`compile_rules` walks a version's structural schema and returns a tree of
:class:`RuleNode` holding the compiled programs (``self`` typed from the schema at that node,
``oldSelf`` the same type) plus the FieldErrors kube reports when the CRD is written: rules that
do not compile, that do not evaluate to bool, whose estimated cost is over the limits, bad
``message``/``messageExpression``/``reason``/``fieldPath``, and ``oldSelf`` where old values
cannot be correlated.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

import msgspec

from kernel.apimachinery.lazyre import lazy_compile
from kernel.apimachinery.validation import FieldError, GoLiteral
import kernel_cel  # cel-cpp loads with the first CRD that has rules (see kernel_cel)
from kernel_cel.errors import CompileError

from kernel_api_apiextensions import rulefieldpath

Schema = Mapping[str, Any]
#: kube's limits (k8s.io/apiserver/pkg/apis/cel/config.go; apiextensions validation).
PER_CALL_LIMIT = 1_000_000
RUNTIME_COST_BUDGET = 10_000_000
STATIC_COST_LIMIT = 10_000_000
STATIC_CRD_COST_LIMIT = 100_000_000
MAX_REQUEST_SIZE = 3 * 1024 * 1024
REASONS = ("FieldValueDuplicate", "FieldValueForbidden", "FieldValueInvalid", "FieldValueRequired")
_OLD_SELF = lazy_compile(r"\boldSelf\b")
_STRINGS = lazy_compile(r"'(?:\\.|[^'\\])*'|\"(?:\\.|[^\"\\])*\"")
#: optionalOldSelf rules see ``oldSelf`` as optional(T); cel-expr-python cannot take an optional
#: value from Python, so the rule is wrapped to build it in CEL from these two variables.
_OLD_VALUE, _OLD_PRESENT = "oldSelfValue__", "oldSelfPresent__"
_BOOL_SCHEMA = {"type": "boolean"}


class CompiledRule(msgspec.Struct):
    rule: Mapping[str, Any]
    program: kernel_cel.Program
    message: kernel_cel.Program | None = None
    uses_old_self: bool = False
    optional_old_self: bool = False
    field_path: str = ""  # normalised (``spec.x``), relative to the node

    @property
    def text(self) -> str:
        """ruleErrorString: the message if there is one, else the rule."""
        return (self.rule.get("message") or "").strip() or self.rule.get("rule", "").strip()

    @property
    def default_message(self) -> str:
        message = (self.rule.get("message") or "").strip()
        return message or f"failed rule: {self.text}"


class RuleNode(msgspec.Struct):
    """The rules of one schema node, and the nodes below it that have rules."""

    type: str
    rules: list[CompiledRule] = msgspec.field(default_factory=list)
    properties: dict[str, RuleNode] = msgspec.field(default_factory=dict)
    items: RuleNode | None = None
    additional: RuleNode | None = None
    map_keys: tuple[str, ...] = ()  # x-kubernetes-list-map-keys: items correlate by these
    env: kernel_cel.Environment | None = None


class _Walk(msgspec.Struct):
    errors: list[FieldError] = msgspec.field(default_factory=list)
    costs: list[tuple[str, int]] = msgspec.field(default_factory=list)


def _with_object_fields(schema: Schema) -> dict[str, Any]:
    """model.WithTypeAndObjectMeta: the resource root (and embedded resources) also have
    apiVersion, kind and metadata.name/generateName for rules."""
    props = dict(schema.get("properties") or {})
    props.setdefault("apiVersion", {"type": "string"})
    props.setdefault("kind", {"type": "string"})
    props["metadata"] = {"type": "object", "properties": {
        "name": {"type": "string"}, "generateName": {"type": "string"}}}
    return {**schema, "type": "object", "properties": props}


def _cel_schema(schema: Schema) -> dict[str, Any]:
    """The node's schema without nested rules (they do not change its type and would only make
    every node's environment key different)."""
    def strip(node: Any) -> Any:
        if not isinstance(node, Mapping):
            return node
        out = {k: v for k, v in node.items() if k not in ("x-kubernetes-validations", "description",
                                                          "default", "example")}
        if isinstance(out.get("properties"), Mapping):
            out["properties"] = {k: strip(v) for k, v in out["properties"].items()}
        for key in ("items", "additionalProperties"):
            if isinstance(out.get(key), Mapping):
                out[key] = strip(out[key])
        return out
    return strip(schema)


def min_serialized_size(schema: Schema) -> int:
    """DeclType.MinSerializedSize: the smallest JSON a value of this schema takes."""
    kind = schema.get("type")
    if kind == "boolean":
        return 4
    if kind in ("integer", "number") or not kind:
        return 1
    return 2  # "", [], {}


def go_json(value: Any) -> GoLiteral:
    """Go's json.Marshal of a bad value (field.Error prints structs that way): compact, HTML
    characters escaped."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return GoLiteral(text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))


def _rule_value(rule: Mapping[str, Any]) -> GoLiteral:
    """The internal apiextensions.ValidationRule (no JSON tags) as json.Marshal prints it."""
    return go_json({"Rule": rule.get("rule") or "", "Message": rule.get("message") or "",
                    "MessageExpression": rule.get("messageExpression") or "",
                    "Reason": rule.get("reason"), "FieldPath": rule.get("fieldPath") or "",
                    "OptionalOldSelf": rule.get("optionalOldSelf")})


def uses_old_self(expression: str) -> bool:
    return bool(_OLD_SELF.search(_STRINGS.sub("''", expression)))


def _rule_shape_errors(schema: Schema, rule: Mapping[str, Any], path: str) -> list[FieldError]:
    """The checks kube makes before compiling (message, messageExpression, reason, fieldPath)."""
    errs: list[FieldError] = []
    text = (rule.get("rule") or "").strip()
    message = rule.get("message") or ""
    if not text:
        errs.append(FieldError.required(f"{path}.rule", "rule is not specified"))
    elif message and not message.strip():
        errs.append(FieldError.invalid(f"{path}.message", message, "must be non-empty if specified"))
    elif re.search(r"[\n\r]", message.strip()):
        errs.append(FieldError.invalid(f"{path}.message", message, "must not contain line breaks"))
    elif re.search(r"[\n\r]", text) and not message.strip():
        errs.append(FieldError.required(f"{path}.message",
                                        "message must be specified if rule contains line breaks"))
    expression = rule.get("messageExpression") or ""
    if expression and not expression.strip():
        errs.append(FieldError.required(f"{path}.messageExpression",
                                        "messageExpression must be non-empty if specified"))
    reason = rule.get("reason")
    if reason is not None and reason not in REASONS:
        errs.append(FieldError.not_supported(f"{path}.reason", reason, REASONS))
    errs += _field_path_errors(schema, rule.get("fieldPath") or "", f"{path}.fieldPath")
    return errs


def _field_path_errors(schema: Schema, field_path: str, path: str) -> list[FieldError]:
    if not field_path:
        return []
    errs = []
    if not field_path.strip():
        errs.append(FieldError.invalid(path, field_path, "must be non-empty if specified"))
    if re.search(r"[\n\r]", field_path):
        errs.append(FieldError.invalid(path, field_path, "must not contain line breaks"))
    try:
        rulefieldpath.normalize(field_path, schema)
    except rulefieldpath.FieldPathError:
        errs.append(FieldError.invalid(path, field_path, "must be a valid path"))
    return errs


def _compile_one(env: kernel_cel.Environment, opt_env: kernel_cel.Environment, schema: Schema,
                 rule: Mapping[str, Any], path: str, walk: _Walk,
                 cardinality: int | None) -> CompiledRule | None:
    """One rule (and its messageExpression): the program, or the FieldErrors kube reports."""
    expression = rule.get("rule") or ""
    optional = bool(rule.get("optionalOldSelf"))
    old = uses_old_self(expression)
    source = expression
    if optional and old:
        source = (f"cel.bind(oldSelf, {_OLD_PRESENT} ? optional.of({_OLD_VALUE}) : "
                  f"optional.none(), {expression})")
    try:
        program = (opt_env if optional and old else env).compile(source)
    except CompileError as error:
        walk.errors.append(FieldError.invalid(f"{path}.rule", _rule_value(rule), error.message))
        return None
    unbounded = MAX_REQUEST_SIZE // (min_serialized_size(schema) + 1)
    cost = program.estimated_cost * (cardinality if cardinality is not None else unbounded)
    if cost > STATIC_COST_LIMIT:
        walk.errors.append(FieldError.forbidden(f"{path}.rule",
                                                kernel_cel.cost_message(cost, STATIC_COST_LIMIT)))
    walk.costs.append((f"{path}.rule", cost))
    if program.result_type != "bool":
        walk.errors.append(FieldError.invalid(f"{path}.rule", _rule_value(rule),
                                              "cel expression must evaluate to a bool"))
        return None
    compiled = CompiledRule(rule, program, uses_old_self=old, optional_old_self=optional)
    if rule.get("fieldPath"):
        try:
            compiled.field_path = rulefieldpath.normalize(rule["fieldPath"], schema)
        except rulefieldpath.FieldPathError:
            pass
    if rule.get("messageExpression"):
        compiled.message = _compile_message(env, rule, path, walk, cardinality, unbounded)
    if not old and rule.get("optionalOldSelf") is not None:
        walk.errors.append(FieldError.invalid(f"{path}.optionalOldSelf", rule["optionalOldSelf"],
                                              "may not be set if oldSelf is not used in rule"))
    return compiled


def _compile_message(env: kernel_cel.Environment, rule: Mapping[str, Any], path: str, walk: _Walk,
                     cardinality: int | None, unbounded: int) -> kernel_cel.Program | None:
    try:
        program = env.compile(rule["messageExpression"])
    except CompileError as error:
        walk.errors.append(FieldError.invalid(f"{path}.messageExpression", _rule_value(rule),
                                              "messageExpression " + error.message))
        return None
    if program.result_type != "string":
        walk.errors.append(FieldError.invalid(f"{path}.messageExpression", _rule_value(rule),
                                              "messageExpression must evaluate to a string"))
        return None
    cost = program.estimated_cost * (cardinality if cardinality is not None else unbounded)
    if cost > STATIC_COST_LIMIT:
        walk.errors.append(FieldError.forbidden(
            f"{path}.messageExpression",
            kernel_cel.cost_message(cost, STATIC_COST_LIMIT, "estimated messageExpression cost")))
    walk.costs.append((f"{path}.messageExpression", cost))
    return program


def _environments(schema: Schema, resource_root: bool) -> tuple[kernel_cel.Environment,
                                                                kernel_cel.Environment]:
    cel_schema = _cel_schema(_with_object_fields(schema) if resource_root else schema)
    decl = kernel_cel.schema_type(cel_schema)
    env = kernel_cel.Environment(variables={"self": decl, "oldSelf": decl}, library="crd")
    present = kernel_cel.schema_type(_BOOL_SCHEMA)
    optional = kernel_cel.Environment(
        variables={"self": decl, _OLD_VALUE: decl, _OLD_PRESENT: present}, library="crd")
    return env, optional


def _node(schema: Schema, path: str, walk: _Walk, *, resource_root: bool,
          cardinality: int | None, uncorrelatable: str | None) -> RuleNode | None:
    """The RuleNode of ``schema`` at CRD field path ``path`` (None: no rules at or below it)."""
    node = RuleNode(type=schema.get("type") or "",
                    map_keys=tuple(schema.get("x-kubernetes-list-map-keys") or ())
                    if schema.get("x-kubernetes-list-type") == "map" else ())
    rules = schema.get("x-kubernetes-validations") or []
    if rules:
        _node_rules(node, schema, rules, path, walk, resource_root, cardinality, uncorrelatable)
    for name, child in (schema.get("properties") or {}).items():
        if isinstance(child, Mapping):
            sub = _node(child, f"{path}.properties[{name}]", walk,
                        resource_root=bool(child.get("x-kubernetes-embedded-resource")),
                        cardinality=cardinality, uncorrelatable=uncorrelatable)
            if sub is not None:
                node.properties[name] = sub
    items = schema.get("items")
    if isinstance(items, Mapping):
        node.items = _node(items, f"{path}.items", walk,
                           resource_root=bool(items.get("x-kubernetes-embedded-resource")),
                           cardinality=_times(cardinality, schema.get("maxItems")),
                           uncorrelatable=uncorrelatable if node.map_keys else (uncorrelatable or path))
    extra = schema.get("additionalProperties")
    if isinstance(extra, Mapping):
        node.additional = _node(extra, f"{path}.additionalProperties", walk,
                                resource_root=bool(extra.get("x-kubernetes-embedded-resource")),
                                cardinality=_times(cardinality, schema.get("maxProperties")),
                                uncorrelatable=uncorrelatable)
    if node.rules or node.properties or node.items or node.additional:
        return node
    return None


def _node_rules(node: RuleNode, schema: Schema, rules: list[Any], path: str, walk: _Walk,
                resource_root: bool, cardinality: int | None, uncorrelatable: str | None) -> None:
    shape_errors: list[FieldError] = []
    for i, rule in enumerate(rules):
        shape_errors += _rule_shape_errors(schema, rule, f"{path}.x-kubernetes-validations[{i}]")
    if shape_errors:  # kube skips CEL compilation where the schema itself is wrong
        walk.errors += shape_errors
        return
    env, optional = _environments(schema, resource_root)
    node.env = env
    for i, rule in enumerate(rules):
        where = f"{path}.x-kubernetes-validations[{i}]"
        compiled = _compile_one(env, optional, schema, rule, where, walk, cardinality)
        if compiled is None:
            continue
        if compiled.uses_old_self and uncorrelatable is not None:
            walk.errors.append(FieldError.invalid(
                f"{where}.rule", rule.get("rule") or "",
                f"oldSelf cannot be used on the uncorrelatable portion of the schema within {uncorrelatable}"))
        node.rules.append(compiled)


def _times(cardinality: int | None, maximum: Any) -> int | None:
    if cardinality is None or not isinstance(maximum, int):
        return None
    return cardinality * maximum


def compile_rules(schema: Schema | None, path: str = "openAPIV3Schema") -> tuple[RuleNode | None,
                                                                              list[FieldError]]:
    """The rule tree of a version's ``openAPIV3Schema`` and the errors the CRD gets for it."""
    walk = _Walk()
    if not isinstance(schema, Mapping):
        return None, []
    root = _node(schema, path, walk, resource_root=True, cardinality=1, uncorrelatable=None)
    total = sum(cost for _, cost in walk.costs)
    if total > STATIC_CRD_COST_LIMIT:
        for where, _ in sorted(walk.costs, key=lambda c: -c[1])[:4]:
            walk.errors.append(FieldError.forbidden(
                where, "contributed to estimated rule cost total exceeding cost limit for entire "
                "OpenAPIv3 schema"))
        walk.errors.append(FieldError.forbidden(path, kernel_cel.cost_message(
            total, STATIC_CRD_COST_LIMIT,
            "x-kubernetes-validations estimated rule cost total for entire OpenAPIv3 schema")))
    return root, walk.errors
