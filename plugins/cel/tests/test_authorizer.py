"""kube's authorizer library in the admission environment, over a Python authorize callable."""

from __future__ import annotations

import gc

import pytest

from kernel_cel import DYN, Authorizer, Environment, EvalError

ENV = Environment(variables={"object": DYN}, library="admission")


class Recorder:
    def __init__(self) -> None:
        self.calls: list[dict] = []

    def __call__(self, attributes):
        self.calls.append(dict(attributes))
        if attributes.get("resource") == "broken":
            raise RuntimeError("webhook unavailable")
        return ("allow" if attributes["verb"] == "get" else "deny"), "policy says so"


def evaluate(expression: str, recorder: Recorder):
    authorizer = Authorizer(recorder)
    values = {"object": {}, "authorizer": authorizer,
              "authorizer.requestResource": authorizer.resource_check("apps", "deployments", "scale", "ns", "web")}
    return ENV.compile(expression).eval(values)


def test_resource_check_attributes():
    recorder = Recorder()
    expression = ("authorizer.group('apps').resource('deployments').subresource('status')"
                  ".namespace('ns').name('web').check('get').allowed()")
    assert evaluate(expression, recorder) is True
    assert recorder.calls == [{
        "verb": "get", "user": None, "resourceRequest": True, "apiGroup": "apps", "apiVersion": "*",
        "resource": "deployments", "subresource": "status", "namespace": "ns", "name": "web",
        "fieldSelector": "", "labelSelector": ""}]


def test_decision_reason_and_denial():
    recorder = Recorder()
    assert evaluate("authorizer.group('').resource('pods').check('delete').allowed()", recorder) is False
    assert evaluate("authorizer.group('').resource('pods').check('delete').reason()", recorder) == "policy says so"


def test_path_check_and_service_account():
    recorder = Recorder()
    assert evaluate("authorizer.path('/healthz').check('get').allowed()", recorder) is True
    assert evaluate("authorizer.serviceAccount('ns', 'sa').path('/x').check('get').allowed()", recorder)
    assert recorder.calls[0] == {"verb": "get", "user": None, "resourceRequest": False, "path": "/healthz"}
    assert recorder.calls[1]["user"] == "system:serviceaccount:ns:sa"


def test_request_resource():
    recorder = Recorder()
    assert evaluate("authorizer.requestResource.check('get').allowed()", recorder) is True
    call = recorder.calls[0]
    assert (call["apiGroup"], call["resource"], call["subresource"], call["namespace"], call["name"]) == (
        "apps", "deployments", "scale", "ns", "web")


def test_authorizer_error_is_a_decision():
    recorder = Recorder()
    check = "authorizer.group('').resource('broken').check('get')"
    assert evaluate(f"{check}.errored()", recorder) is True
    assert evaluate(f"{check}.error()", recorder) == "webhook unavailable"
    assert evaluate(f"{check}.allowed()", recorder) is False


def test_argument_errors_in_kubes_words():
    with pytest.raises(EvalError, match="^resource must not be empty$"):
        evaluate("authorizer.group('').resource('').check('get').allowed()", Recorder())
    with pytest.raises(EvalError, match="^path must not be empty$"):
        evaluate("authorizer.path('').check('get').allowed()", Recorder())


def test_authorizer_is_per_evaluation():
    """Each request's callable answers for its own evaluation; a dropped one is gone."""
    first, second = Recorder(), Recorder()
    assert evaluate("authorizer.path('/a').check('get').allowed()", first)
    assert evaluate("authorizer.path('/b').check('get').allowed()", second)
    assert [c["path"] for c in first.calls] == ["/a"] and [c["path"] for c in second.calls] == ["/b"]
    gc.collect()
    from kernel_cel.library import authz
    assert len(authz._handles) == 0


async def test_async_authorizer_from_trio():
    """The kernel's authorizers are async: evaluate in a worker thread and let the callable call
    back into the event loop (what an admission plugin does per request)."""
    import trio

    async def authorize_async(attributes):
        await trio.sleep(0)
        return ("allow" if attributes["resource"] == "pods" else "deny"), "async"

    def authorize(attributes):
        return trio.from_thread.run(authorize_async, attributes)

    program = ENV.compile("authorizer.group('').resource('pods').check('create').allowed() && "
                          "!authorizer.group('').resource('secrets').check('get').allowed()", result="bool")
    activation = ENV.activation({"object": {}, "authorizer": Authorizer(authorize)})
    assert await trio.to_thread.run_sync(program.eval, activation) is True
