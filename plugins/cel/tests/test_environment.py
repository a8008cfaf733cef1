"""The shared environment: declarations, compile errors in kube's words, evaluation over JSON."""

from __future__ import annotations

import pytest

from kernel_cel import DYN, CompileError, Environment, EvalError, schema_type

SCHEMA = {"type": "object", "properties": {
    "replicas": {"type": "integer"}, "name": {"type": "string"},
    "tags": {"type": "array", "items": {"type": "string"}}}}
OBJ = {"replicas": 3, "name": "web", "tags": ["a", "b"]}


def crd_env() -> Environment:
    decl = schema_type(SCHEMA)
    return Environment(variables={"self": decl, "oldSelf": decl}, library="crd")


def test_environment_is_cached_per_declaration():
    assert crd_env() is crd_env()
    assert Environment(variables={"self": DYN}, library="crd") is not crd_env()
    assert Environment(variables={"self": DYN}, library="admission") is not Environment(
        variables={"self": DYN}, library="crd")


def test_evaluates_over_json_values():
    program = crd_env().compile("self.replicas >= oldSelf.replicas && self.tags.all(t, size(t) == 1)",
                                result="bool")
    assert program.eval({"self": OBJ, "oldSelf": {**OBJ, "replicas": 1}}) is True
    assert program.eval({"self": OBJ, "oldSelf": {**OBJ, "replicas": 9}}) is False


def test_plain_results():
    env = crd_env()
    assert env.compile("self.tags.map(t, t + '!')").eval({"self": OBJ, "oldSelf": OBJ}) == ["a!", "b!"]
    assert env.compile("{'n': self.name}").eval({"self": OBJ, "oldSelf": OBJ}) == {"n": "web"}


def test_syntax_error_in_kubes_words():
    with pytest.raises(CompileError) as error:
        crd_env().compile("self.replicas +")
    # cel-go's issues.String(): "ERROR: <input>:line:col: message" then the source snippet
    assert str(error.value).startswith("compilation failed: ERROR: <input>:1:16: Syntax error: ")
    assert str(error.value).endswith("\n | self.replicas +\n | ...............^")


def test_undeclared_reference():
    with pytest.raises(CompileError) as error:
        crd_env().compile("other == 1")
    assert str(error.value).startswith(
        "compilation failed: ERROR: <input>:1:1: undeclared reference to 'other'\n")


def test_result_type_is_checked():
    with pytest.raises(CompileError, match="must evaluate to bool but got int"):
        crd_env().compile("self.replicas + 1", result="bool")
    env = Environment(variables={"self": schema_type({"type": "string"})}, library="crd")
    assert env.compile("self + '!'", result="string").result_type == "string"


def test_undefined_field_is_a_compile_error():
    """kube checks field names against the schema (its typed environment)."""
    with pytest.raises(CompileError) as error:
        crd_env().compile("self.missing == 1")
    assert str(error.value) == ("compilation failed: ERROR: <input>:1:5: undefined field 'missing'\n"
                                " | self.missing == 1\n | ....^")


def test_evaluation_errors_in_cel_go_words():
    env = crd_env()
    dyn = Environment(variables={"self": DYN}, library="crd")
    with pytest.raises(EvalError, match="^no such key: missing$"):
        dyn.compile("self.missing == 1").eval({"self": OBJ})
    with pytest.raises(EvalError, match="^division by zero$"):
        env.compile("self.replicas / 0 == 1").eval({"self": OBJ, "oldSelf": OBJ})


def test_activation_reused_across_programs():
    env = crd_env()
    activation = env.activation({"self": OBJ, "oldSelf": OBJ})
    programs = [env.compile(e, result="bool") for e in ("self.replicas == 3", "self.name == 'web'")]
    assert [p.eval(activation) for p in programs] == [True, True]
