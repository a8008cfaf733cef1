"""The webhook plugins in process against a REAL HTTPS webhook (kernel_webhook.testing): kube's
checks of the answer, refusals, dry run, concurrency of validating webhooks, warnings and audit
annotations recorded on the request. Expected texts are kube's (admission/plugin/webhook)."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import trio

from kernel.admission import Attributes
from kernel.apimachinery.status import StatusError
from kernel.endpoints.request import recorded
from kernel.testing.contracts import request
from kernel_webhook.testing import WebhookServer

from kernel_admission_webhook.accessor import Hook
from kernel_admission_webhook.dispatcher import Configurations, Dispatcher
from kernel_admission_webhook.mutating import MutatingWebhooks
from kernel_admission_webhook.validating import ValidatingWebhooks

RULE = {"operations": ["*"], "apiGroups": ["*"], "apiVersions": ["*"], "resources": ["*"]}
Answer = Callable[[dict[str, Any]], dict[str, Any]]


def review(body: dict[str, Any], **response: Any) -> dict[str, Any]:
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
            "response": {"uid": body["request"]["uid"], **response}}


class Routes:
    def __init__(self) -> None:
        self.answers: dict[str, Answer] = {}

    def __call__(self, path: str, body: Any) -> Any:
        return self.answers[path](body)


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[WebhookServer, Routes]]:
    routes = Routes()
    with WebhookServer(routes) as served:
        yield served, routes


def hook(server: WebhookServer, name: str, path: str, mutating: bool = False, **spec: Any) -> Hook:
    full = {"name": name, "clientConfig": server.client_config(path), "rules": [RULE], "sideEffects": "None",
            "admissionReviewVersions": ["v1"], **spec}
    return Hook(f"test/{name}/0", name, "test", full, mutating)


def mutating(*hooks: Hook) -> MutatingWebhooks:
    return MutatingWebhooks(Dispatcher(Configurations(None, True, list(hooks)), None, None, None))


def validating(*hooks: Hook) -> ValidatingWebhooks:
    return ValidatingWebhooks(Dispatcher(Configurations(None, False, list(hooks)), None, None, None))


def configmap(name: str = "cm") -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"k": "v"}}


def create(dry_run: bool = False) -> Attributes:
    return request("CREATE", "configmaps", "default", configmap(), dry_run=dry_run)


async def refusal(call: Any) -> StatusError:
    with pytest.raises(StatusError) as caught:
        await call
    return caught.value


async def test_a_response_for_another_uid_is_an_invalid_response(server) -> None:
    webhook, routes = server
    routes.answers["/uid"] = lambda body: {**review(body, allowed=True), "response": {"uid": "other", "allowed": True}}
    error = await refusal(validating(hook(webhook, "uid.example.com", "/uid")).validate(create()))
    assert (error.code, error.reason) == (500, "InternalError")
    sent = [b for p, _, b in webhook.requests if p.startswith("/uid")][-1]
    assert error.message == ('Internal error occurred: failed calling webhook "uid.example.com": received invalid '
                             f'webhook response: expected response.uid="{sent["request"]["uid"]}", got "other"')


@pytest.mark.parametrize(("answer", "expected"), [
    (lambda body: {"kind": "AdmissionReview", "apiVersion": "admission.k8s.io/v1beta1",
                   "response": {"uid": body["request"]["uid"], "allowed": True}},
     "expected webhook response of admission.k8s.io/v1, Kind=AdmissionReview, got "
     "admission.k8s.io/v1beta1, Kind=AdmissionReview"),
    (lambda body: {"kind": "AdmissionReview", "apiVersion": "admission.k8s.io/v1"}, "webhook response was absent"),
    (lambda body: review(body, allowed=True, patchType="JSONPatch", patch=base64.b64encode(b"[]").decode()),
     "validating webhook may not return response.patch"),
])
async def test_answers_kube_refuses(server, answer: Answer, expected: str) -> None:
    webhook, routes = server
    routes.answers["/bad"] = answer
    error = await refusal(validating(hook(webhook, "bad.example.com", "/bad")).validate(create()))
    assert error.message == ('Internal error occurred: failed calling webhook "bad.example.com": '
                             f"received invalid webhook response: {expected}")


async def test_a_denial_without_explanation_and_its_code(server) -> None:
    webhook, routes = server
    routes.answers["/plain-deny"] = lambda body: review(body, allowed=False)
    error = await refusal(validating(hook(webhook, "d.example.com", "/plain-deny")).validate(create()))
    assert (error.code, error.message) == (400, 'admission webhook "d.example.com" denied the request without explanation')
    routes.answers["/reason-deny"] = lambda body: review(body, allowed=False,
                                                         status={"code": 200, "reason": "NotAllowed"})
    error = await refusal(validating(hook(webhook, "r.example.com", "/reason-deny")).validate(create()))
    assert (error.code, error.reason, error.message) == (
        400, "NotAllowed", 'admission webhook "r.example.com" denied the request: NotAllowed')
    routes.answers["/teapot"] = lambda body: review(body, allowed=False, status={"code": 418, "message": "tea"})
    error = await refusal(mutating(hook(webhook, "t.example.com", "/teapot", True)).admit(create()))
    assert (error.code, error.message) == (418, 'admission webhook "t.example.com" denied the request: tea')


async def test_dry_run_and_side_effects(server) -> None:
    webhook, routes = server
    routes.answers["/allow"] = lambda body: review(body, allowed=True)
    calls = len(webhook.requests)
    error = await refusal(validating(hook(webhook, "some.example.com", "/allow", sideEffects="Some"))
                          .validate(create(dry_run=True)))
    assert (error.code, error.reason, error.message) == (
        400, "BadRequest", 'admission webhook "some.example.com" does not support dry run')
    assert len(webhook.requests) == calls  # refused before any call
    unset = hook(webhook, "unset.example.com", "/allow")
    del unset.spec["sideEffects"]  # type: ignore[attr-defined]
    error = await refusal(mutating(unset).admit(create(dry_run=True)))
    assert error.message == 'Internal error occurred: failed calling webhook "unset.example.com": Webhook SideEffects is nil'
    await validating(hook(webhook, "some.example.com", "/allow", sideEffects="Some")).validate(create())
    await validating(hook(webhook, "none.example.com", "/allow", sideEffects="NoneOnDryRun")).validate(create(True))
    assert [b["request"]["dryRun"] for p, _, b in webhook.requests[-2:]] == [False, True]


async def test_patches_kube_refuses(server) -> None:
    webhook, routes = server

    def patch(patch_type: str, operations: Any) -> Answer:
        encoded = base64.b64encode(json.dumps(operations).encode()).decode()
        return lambda body: review(body, allowed=True, patchType=patch_type, patch=encoded)

    routes.answers["/merge"] = patch("MergePatch", [{"op": "add", "path": "/data/x", "value": "y"}])
    error = await refusal(mutating(hook(webhook, "m.example.com", "/merge", True)).admit(create()))
    assert error.message == 'Internal error occurred: failed calling webhook "m.example.com": unsupported patch type "MergePatch"'
    routes.answers["/delete-patch"] = patch("JSONPatch", [{"op": "add", "path": "/data/x", "value": "y"}])
    deleting = request("DELETE", "configmaps", "default", None, name="cm", old=configmap())
    error = await refusal(mutating(hook(webhook, "del.example.com", "/delete-patch", True)).admit(deleting))
    assert error.message == ('Internal error occurred: admission webhook "del.example.com" attempted to modify the '
                             "object, which is not supported for this operation")
    routes.answers["/bad-path"] = patch("JSONPatch", [{"op": "replace", "path": "/spec/nope", "value": 1}])
    error = await refusal(mutating(hook(webhook, "p.example.com", "/bad-path", True)).admit(create()))
    assert (error.code, error.reason) == (500, "InternalError")
    routes.answers["/ignored"] = patch("MergePatch", [{"op": "add", "path": "/data/x", "value": "y"}])
    attributes = create()
    await mutating(hook(webhook, "i.example.com", "/ignored", True, failurePolicy="Ignore")).admit(attributes)
    assert attributes.object == configmap()  # a call failure under Ignore changes nothing


async def test_validating_webhooks_run_concurrently_and_the_first_refusal_is_reported(server) -> None:
    webhook, routes = server

    def slow(seconds: float, allowed: bool, message: str = "") -> Answer:
        def answer(body: dict[str, Any]) -> dict[str, Any]:
            time.sleep(seconds)
            return review(body, allowed=allowed, **({"status": {"message": message}} if message else {}))
        return answer

    routes.answers["/slow-a"], routes.answers["/slow-b"] = slow(1.0, True), slow(1.0, True)
    plugin = validating(hook(webhook, "a.example.com", "/slow-a"), hook(webhook, "b.example.com", "/slow-b"))
    started = trio.current_time()
    await plugin.validate(create())
    assert trio.current_time() - started < 1.9  # both calls overlapped: one after the other is 2 s
    routes.answers["/late-deny"], routes.answers["/early-deny"] = slow(1.0, False, "late"), slow(0, False, "early")
    plugin = validating(hook(webhook, "late.example.com", "/late-deny"),
                        hook(webhook, "early.example.com", "/early-deny"))
    error = await refusal(plugin.validate(create()))
    assert error.message == 'admission webhook "early.example.com" denied the request: early'


async def test_warnings_and_audit_annotations_are_recorded_on_the_request(server) -> None:
    webhook, routes = server
    routes.answers["/noted"] = lambda body: review(body, allowed=True, warnings=["mind the gap"],
                                                   auditAnnotations={"decision": "fine"})
    warnings, annotations = recorded.start()
    await validating(hook(webhook, "noted.example.com", "/noted")).validate(create())
    assert warnings == ["mind the gap"]
    assert annotations == {"noted.example.com/decision": "fine"}
    routes.answers["/m-noted"] = lambda body: review(body, allowed=True, auditAnnotations={"k": "v"})
    warnings, annotations = recorded.start()
    await mutating(hook(webhook, "mn.example.com", "/m-noted", True)).admit(create())
    assert annotations == {"mn.example.com/k": "v", "mutation.webhook.admission.k8s.io/round_0_index_0":
                           '{"configuration":"test","webhook":"mn.example.com","mutated":false}'}
    warnings, annotations = recorded.start()
    down = {"url": "https://127.0.0.1:1/x", "caBundle": webhook.ca_bundle}
    ignored = Hook("test/down/0", "down.example.com", "test",
                   {"name": "down.example.com", "clientConfig": down, "rules": [RULE], "sideEffects": "None",
                    "admissionReviewVersions": ["v1"], "failurePolicy": "Ignore"}, False)
    await validating(ignored).validate(create())
    assert annotations == {"failed-open.validating.webhook.admission.k8s.io/round_0_index_0": "down.example.com"}


async def test_v1beta1_reviews_and_unknown_versions(server) -> None:
    webhook, routes = server
    routes.answers["/beta"] = lambda body: {"apiVersion": "admission.k8s.io/v1beta1", "kind": "AdmissionReview",
                                            "response": {"uid": body["request"]["uid"], "allowed": True,
                                                         "patch": base64.b64encode(json.dumps(
                                                             [{"op": "add", "path": "/data/beta", "value": "1"}]
                                                         ).encode()).decode()}}
    attributes = create()
    await mutating(hook(webhook, "beta.example.com", "/beta", True, admissionReviewVersions=["v1beta1"])).admit(attributes)
    assert attributes.object["data"] == {"k": "v", "beta": "1"}
    assert [b["apiVersion"] for p, _, b in webhook.requests if p.startswith("/beta")][-1] == "admission.k8s.io/v1beta1"
    error = await refusal(validating(hook(webhook, "v2.example.com", "/beta", admissionReviewVersions=["v2"]))
                          .validate(create()))
    assert error.message == ('Internal error occurred: failed calling webhook "v2.example.com": could not create '
                             "admission objects: webhook does not accept known AdmissionReview versions (v1, v1beta1)")


async def test_admission_configuration_resources_are_exempt_from_api_webhooks(server) -> None:
    webhook, routes = server
    routes.answers["/deny-all"] = lambda body: review(body, allowed=False)
    config = {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingWebhookConfiguration",
              "metadata": {"name": "x"}, "webhooks": []}

    class Listed:  # the configurations an informer would list: one that denies everything
        has_synced = True

        def list(self) -> list[dict[str, Any]]:
            return [{"metadata": {"name": "all", "resourceVersion": "1"},
                     "webhooks": [hook(webhook, "all.example.com", "/deny-all").spec]}]

        async def wait_synced(self) -> None:
            return None

    plugin = ValidatingWebhooks(Dispatcher(Configurations(Listed(), False), None, None, None))
    exempt = request("CREATE", "validatingwebhookconfigurations", "", config, group="admissionregistration.k8s.io")
    await plugin.validate(exempt)
    error = await refusal(plugin.validate(create()))
    assert error.message == 'admission webhook "all.example.com" denied the request without explanation'
