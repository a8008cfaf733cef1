"""Estimated costs against kube's figures: the cases of apiextensions-apiserver's
pkg/apiserver/schema/cel/compilation_test.go TestCostEstimation (each schema once without
size limits, "calc", and once with them, "set"), and the cost limits' messages."""

from __future__ import annotations

import pytest

from kernel_cel import (PER_CALL_LIMIT, STATIC_ESTIMATED_COST_LIMIT, CompileError, Environment, EvalError,
                        schema_type, DYN)


def _typed(kind: str) -> dict:
    if kind in ("duration", "date", "date-time"):
        return {"type": "string", "format": kind}
    if kind == "int-or-string":
        return {"x-kubernetes-int-or-string": True}
    return {"type": kind}


def array(kind, limit=None):
    return {"type": "array", "items": _typed(kind), **({"maxItems": limit} if limit is not None else {})}


def array_of_arrays(kind, limit=None):
    return {"type": "array", "items": {"type": "array", "items": {"type": kind}},
            **({"maxItems": limit} if limit is not None else {})}


OBJECT_ITEM = {"type": "object", "required": ["required"],
               "properties": {"required": {"type": "string"}, "optional": {"type": "string"}}}


def object_array(limit=None):
    return {"type": "array", "items": OBJECT_ITEM, **({"maxItems": limit} if limit is not None else {})}


def map_array(kind, limit=None):
    return {"type": "array", "items": {"type": "object", "additionalProperties": {"type": kind}},
            **({"maxItems": limit} if limit is not None else {})}


def map_of(item, limit=None):
    return {"type": "object", "additionalProperties": item, **({"maxProperties": limit} if limit is not None else {})}


def string(limit=None, **extra):
    return {"type": "string", **({"maxLength": limit} if limit is not None else {}), **extra}


def nested_spec(limit=None):
    return map_of(string(limit), limit)


def all_max_nested(limit=None):
    inner = {**OBJECT_ITEM, **({"maxProperties": limit} if limit is not None else {})}
    return {"type": "array", "items": map_of(inner, limit), **({"maxItems": limit} if limit is not None else {})}


def one_max_nested(limit=None):
    return {"type": "array", "items": map_of(OBJECT_ITEM, limit)}


def string_list(limit=None):
    return {"type": "array", "items": string(limit), **({"maxItems": limit} if limit is not None else {})}


def replace_object(limit=None):
    return {"type": "object", "properties": {"str": string(limit), "before": string(2), "after": string(4)}}


def split_object(limit=None):
    return {"type": "object", "properties": {"str": string(limit), "separator": string(limit)}}


def int_or_string(limit=None):
    return {"x-kubernetes-int-or-string": True, **({"maxLength": limit} if limit is not None else {})}


# (name, schema generator, rule, calc cost, set limit, set cost); 0: kube does not check it
CASES = [
    ("number array with all", lambda m: array("number", m), "self.all(x, true)", 4718591, 10, 32),
    ("string array with all", lambda m: array("string", m), "self.all(x, true)", 3145727, 20, 62),
    ("boolean array with all", lambda m: array("boolean", m), "self.all(x, true)", 1887437, 5, 17),
    ("array of number arrays with all", lambda m: array_of_arrays("number", m), "self.all(x, true)", 3145727, 100, 302),
    ("array of objects with all", object_array, "self.all(x, true)", 555128, 50, 152),
    ("map of numbers with all", lambda m: map_of({"type": "number"}, m), "self.all(x, true)", 1348169, 10, 32),
    ("map of strings with all", lambda m: map_of({"type": "string"}, m), "self.all(x, true)", 1179647, 3, 11),
    ("map of booleans with all", lambda m: map_of({"type": "boolean"}, m), "self.all(x, true)", 943718, 100, 302),
    ("string with contains", string, "self.contains('test')", 314574, 10, 5),
    ("string with startsWith", string, "self.startsWith('test')", 2, 15, 2),
    ("string with endsWith", string, "self.endsWith('test')", 2, 30, 2),
    ("concat string", string, 'size(self + "hello") > size("hello")', 314578, 4, 7),
    ("index of array with numbers", lambda m: array("number", m), "self[1] == 0.0", 2, 5000, 2),
    ("index of array with strings", lambda m: array("string", m), "self[1] == self[1]", 314577, 8, 314577),
    ("O(n^2) loop with numbers", lambda m: array("number", m), "self.all(x, self.all(y, true))", 0, 10, 352),
    ("O(n^3) loop with numbers", lambda m: array("number", m), "self.all(x, self.all(y, self.all(z, true)))", 0, 10, 3552),
    ("regex matches simple", string, 'self.matches("x")', 314574, 50, 22),
    ("regex matches empty string", string, '"".matches("(((((((((())))))))))[0-9]")', 7, 10, 7),
    ("regex matches empty regex", string, 'self.matches("")', 1, 100, 1),
    ("map of strings with value length", nested_spec, "self.all(x, x.contains(self[x]))", 2752507, 10, 72),
    ("set array maxLength to zero", lambda m: array("number", m), "self[3] == 0.0", 2, 0, 2),
    ("set map maxLength to zero", lambda m: map_of({"type": "number"}, m), 'self["x"] == 0.0', 2, 0, 2),
    ("set string maxLength to zero", string, 'self == "x"', 2, 0, 1),
    ("set bytes maxLength to zero", lambda m: string(m, format="byte"), 'self == b"x"', 2, 0, 1),
    ("set maxLength greater than estimated", lambda m: array("number", m), "self.all(x, x == 0.0)",
     6291454, 3 * 1024 * 2048, 25165826),
    ("nested types with root rule with all supporting maxLength", all_max_nested,
     'self.all(x, x["y"].required == "z")', 7340027, 10, 72),
    ("nested types with root rule with one supporting maxLength", one_max_nested,
     'self.all(x, x["y"].required == "z")', 7340027, 10, 7340027),
    ("int-or-string array with all", lambda m: array("int-or-string", m), "self.all(x, true)", 4718591, 10, 32),
    ("index of array with int-or-strings", lambda m: array("int-or-string", m), "self[0] == 5", 3, 10, 3),
    ("index of array with booleans", lambda m: array("boolean", m), "self[0] == false", 2, 25, 2),
    ("index of array of objects", object_array, "self[0] == null", 2, 422, 2),
    ("index of array of array of numbers", lambda m: array_of_arrays("number", m), "self[0][0] == -1.0", 3, 51, 3),
    ("array of number maps with all", lambda m: map_array("number", m), "self.all(x, x.y == 25.2)", 6291452, 12, 74),
    ("index of array of number maps", lambda m: map_array("number", m), "self[0].x > 2.0", 4, 3000, 4),
    ("duration array with all", lambda m: array("duration", m), "self.all(x, true)", 2359295, 5, 17),
    ("index of duration array", lambda m: array("duration", m), "self[0].getHours() == 2", 4, 525, 4),
    ("date array with all", lambda m: array("date", m), "self.all(x, true)", 725936, 15, 47),
    ("index of date array", lambda m: array("date", m), "self[2].getDayOfMonth() == 13", 4, 42, 4),
    ("date-time array with all", lambda m: array("date-time", m), "self.all(x, true)", 428963, 25, 77),
    ("index of date-time array", lambda m: array("date-time", m), "self[2].getMinutes() == 45", 4, 99, 4),
    ("map of int-or-strings with all", lambda m: map_of(_typed("int-or-string"), m), "self.all(x, true)", 1348169, 15, 47),
    ("map of objects with all", lambda m: map_of(OBJECT_ITEM, m), "self.all(x, true)", 428963, 20, 62),
    ("extended library regex find", string, "self.find('[0-9]+') == ''", 629147, 10, 11),
    ("extended library join", string_list, "self.join(' ') == 'aa bb'", 329853068905, 10, 43),
    ("extended library isSorted", string_list, "self.isSorted() == true", 329854432052, 10, 52),
    ("extended library replace", replace_object, "self.str.replace(self.before, self.after) == 'does not matter'",
     629154, 4, 12),
    ("extended library split", split_object, "self.str.split(self.separator) == []", 629160, 10, 22),
    ("extended library lowerAscii", string, "self.lowerAscii() == 'lower!'", 314575, 10, 6),
    ("check cost of size call", lambda m: map_of({"type": "integer"}, m), "oldSelf.size() == self.size()", 5, 10, 5),
    ("check cost of timestamp comparison", lambda m: map_of(_typed("date-time"), m), 'self["a"] == self["b"]', 8, 7, 8),
    ("check cost of duration comparison", lambda m: map_of(_typed("duration"), m), 'self["c"] == self["d"]', 8, 42, 8),
    ("enums with maxLength equals to the longest possible value",
     lambda m: string(m, enum=["A", "B", "C", "LongValue"]), "self.contains('A')", 2, 1000, 401),
    ("IntOrString type with quantity rule", int_or_string, "isQuantity(self)", 314574, 20, 9),
]


def cost_of(schema: dict, rule: str) -> int:
    decl = schema_type(schema)
    return Environment(variables={"self": decl, "oldSelf": decl}, library="crd").compile(rule).estimated_cost


@pytest.mark.parametrize("name, generate, rule, calc, limit, expected", CASES, ids=[c[0] for c in CASES])
def test_cost_estimate(name, generate, rule, calc, limit, expected):
    if calc:
        assert cost_of(generate(None), rule) == calc
    assert cost_of(generate(limit), rule) == expected


def test_quadratic_rules_exceed_the_limit():
    """kube: expectCalcCostExceedsLimit for the O(n^2) and O(n^3) loops without maxItems."""
    assert cost_of(array("number"), "self.all(x, self.all(y, true))") > STATIC_ESTIMATED_COST_LIMIT


def test_cost_limit_refuses_with_kubes_message():
    decl = schema_type(array("string"))
    env = Environment(variables={"self": decl, "oldSelf": decl}, library="crd")
    with pytest.raises(CompileError) as error:
        env.compile("self.all(x, self.all(y, x == y))", cost_limit=STATIC_ESTIMATED_COST_LIMIT)
    assert str(error.value) == (
        "estimated rule cost exceeds budget by factor of more than 100x (try simplifying the rule, or "
        "adding maxItems, maxProperties, and maxLength where arrays, maps, and strings are declared)")
    program = env.compile("self.all(x, true)", cost_limit=STATIC_ESTIMATED_COST_LIMIT)
    assert program.estimated_cost == 3145727


def test_factor_wording():
    from kernel_cel import cost_message
    assert "by factor of 1.200000x " in cost_message(12, 10)
    assert "by factor of 2.5x " in cost_message(25, 10)


class TestRuntimeLimit:
    """No cost tracking in cel-cpp: an upper bound over the actual sizes decides, before evaluating."""

    ENV = Environment(variables={"self": DYN}, library="crd")
    RULE = "self.all(x, self.all(y, x.contains(y)))"
    LARGE = ["a" * 1000] * 16  # 256 contains of 1000 characters in 1000: 256 * 100 * 100

    def test_small_values_evaluate(self):
        program = self.ENV.compile(self.RULE)
        assert program.estimated_cost > PER_CALL_LIMIT  # unbounded sizes (dyn)
        assert program.eval({"self": ["a"] * 50}) is True

    def test_large_values_are_cancelled(self):
        with pytest.raises(EvalError, match="^operation cancelled: actual cost limit exceeded$"):
            self.ENV.compile(self.RULE).eval({"self": self.LARGE})

    def test_limit_is_per_call_and_can_be_lifted(self):
        program = self.ENV.compile(self.RULE)
        assert program.eval({"self": self.LARGE}, cost_limit=None) is True
        assert program.runtime_cost(self.ENV.activation({"self": self.LARGE})) > PER_CALL_LIMIT

    def test_bounded_schema_needs_no_runtime_bound(self):
        decl = schema_type({"type": "array", "maxItems": 10, "items": {"type": "string", "maxLength": 10}})
        program = Environment(variables={"self": decl}, library="crd").compile(self.RULE)
        assert program.estimated_cost < PER_CALL_LIMIT
        assert program.eval({"self": ["a"] * 10}) is True

    def test_cel_cpp_iteration_budget(self):
        """A known difference: cel-cpp stops one evaluation after 10,000 comprehension iterations."""
        with pytest.raises(EvalError, match="^Iteration budget exceeded$"):
            self.ENV.compile("self.all(x, true)").eval({"self": [1] * 10_001}, cost_limit=None)
