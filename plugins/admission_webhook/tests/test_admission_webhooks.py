"""Admission webhooks end to end: ``kernel serve`` with admissionregistration, REAL HTTPS webhook
servers started here (their own CA, in ``caBundle``), kubectl and httpx as clients. Expected
texts are kube's (k8s.io/apiserver admission/plugin/webhook, util/webhook, client-go).

Configurations reach the admission plugins through informers, a moment after they are written,
as in kube: each test retries its first request with fresh names until the webhook is in force
(``eventually``), or includes a recording webhook that tells when it is.
"""

from __future__ import annotations

import base64
import itertools
import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from kernel.testing import KernelProcess, start_kernel
from kernel.testing.tls import free_port
from kernel_webhook.testing import WebhookServer

ADMREG = "/apis/admissionregistration.k8s.io/v1"
NAMES = itertools.count()


def allow(review: dict[str, Any], **response: Any) -> dict[str, Any]:
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
            "response": {"uid": review["request"]["uid"], "allowed": True, **response}}


def deny(review: dict[str, Any], message: str, code: int = 403) -> dict[str, Any]:
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
            "response": {"uid": review["request"]["uid"], "allowed": False,
                         "status": {"code": code, "message": message}}}


def json_patch(review: dict[str, Any], operations: list[dict[str, Any]], **response: Any) -> dict[str, Any]:
    patch = base64.b64encode(json.dumps(operations).encode()).decode()
    return allow(review, patchType="JSONPatch", patch=patch, **response)


# Complete as a webhook would send it: this kernel's pods are defaulted when prepared for storage,
# before admission, so fields a webhook adds are not defaulted afterwards (kube defaults them).
SIDECAR = {"name": "sidecar", "image": "busybox:1.36", "imagePullPolicy": "IfNotPresent",
           "terminationMessagePolicy": "File", "terminationMessagePath": "/dev/termination-log"}


def mutate_pod(review: dict[str, Any]) -> dict[str, Any]:
    """Adds the label ``mutated: "yes"`` and a sidecar container."""
    pod = review["request"]["object"]
    operations = [] if "labels" in pod["metadata"] else [{"op": "add", "path": "/metadata/labels", "value": {}}]
    operations += [{"op": "add", "path": "/metadata/labels/mutated", "value": "yes"},
                   {"op": "add", "path": "/spec/containers/-", "value": SIDECAR}]
    return json_patch(review, operations, warnings=["sidecar injected by mutate.example.com"],
                      auditAnnotations={"injected": "sidecar"})


def deny_bad_names(review: dict[str, Any]) -> dict[str, Any]:
    name = review["request"]["name"]
    return deny(review, f"the name {name} is not allowed") if name.startswith("bad-") else allow(review)


class Hooks:
    """One HTTPS server, answering per path."""

    def __init__(self, server: WebhookServer) -> None:
        self.server = server
        self.routes: dict[str, Callable[[dict[str, Any]], Any]] = {}
        server.handle = self._handle

    def _handle(self, path: str, review: Any) -> Any:
        route = self.routes.get(path)
        return route(review) if route else allow(review)

    def reviews(self, path: str) -> list[dict[str, Any]]:
        return [body for got, _, body in list(self.server.requests) if got.partition("?")[0] == path]


@pytest.fixture(scope="module")
def hooks() -> Iterator[Hooks]:
    with WebhookServer(dns_names=["hook.webhooks.svc"]) as server:
        yield Hooks(server)


@pytest.fixture(scope="module")
def kernel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KernelProcess]:
    kernel = start_kernel(tmp_path_factory.mktemp("admission-webhook"),
                          "--plugins=api_core,api_admissionregistration,admission_webhook,storage_memory",
                          "--authorization-mode=AlwaysAllow")
    yield kernel
    kernel.stop()


@pytest.fixture
def http(kernel: KernelProcess) -> Iterator[Any]:
    with kernel.client(timeout=60) as client:
        yield client


def webhook(name: str, client_config: dict[str, Any], resources: list[str], **fields: Any) -> dict[str, Any]:
    return {"name": name, "clientConfig": client_config, "sideEffects": "None", "admissionReviewVersions": ["v1"],
            "rules": [{"operations": ["CREATE", "UPDATE"], "apiGroups": [""], "apiVersions": ["v1"],
                       "resources": resources}], **fields}


def configure(http: Any, kind: str, *webhooks: dict[str, Any]) -> str:
    """Create a configuration of ``kind`` (Mutating/Validating) holding ``webhooks``; its name."""
    name = f"test-{next(NAMES)}"
    plural = f"{kind.lower()}webhookconfigurations"
    body = {"apiVersion": "admissionregistration.k8s.io/v1", "kind": f"{kind}WebhookConfiguration",
            "metadata": {"name": name}, "webhooks": list(webhooks)}
    made = http.post(f"{ADMREG}/{plural}", json=body)
    assert made.status_code == 201, made.text
    return name


def remove(http: Any, kind: str, name: str) -> None:
    http.delete(f"{ADMREG}/{kind.lower()}webhookconfigurations/{name}")


def namespace(http: Any, labels: dict[str, str] | None = None) -> str:
    name = f"ns-{next(NAMES)}"
    made = http.post("/api/v1/namespaces", json={"metadata": {"name": name, "labels": labels or {}}})
    assert made.status_code == 201, made.text
    return name


def configmap(name: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "labels": labels or {}},
            "data": {"k": "v"}}


def eventually(attempt: Callable[[int], Any], timeout: float = 10) -> Any:
    """``attempt(n)`` until it returns something true (a webhook configuration is in force)."""
    deadline = time.monotonic() + timeout
    for n in itertools.count():
        result = attempt(n)
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.05)


def pod(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"containers": [{"name": "app", "image": "nginx"}]}}


def test_a_mutating_webhook_adds_a_label_and_a_sidecar_by_json_patch(
        kernel: KernelProcess, http: Any, hooks: Hooks, tmp_path: Any) -> None:
    hooks.routes["/mutate"] = mutate_pod
    ns = namespace(http, {"inject": "yes"})
    name = configure(http, "Mutating", webhook("mutate.example.com", hooks.server.client_config("/mutate"), ["pods"],
                                              namespaceSelector={"matchLabels": {"inject": "yes"}}))
    try:
        def attempt(n: int) -> Any:
            made = http.post(f"/api/v1/namespaces/{ns}/pods", json=pod(f"p-{n}"))
            assert made.status_code == 201, made.text
            return made if made.json()["metadata"].get("labels", {}).get("mutated") else None

        made = eventually(attempt)
        assert made, "the mutating webhook never came into force"
        stored = http.get(f"/api/v1/namespaces/{ns}/pods/{made.json()['metadata']['name']}").json()
        assert stored["metadata"]["labels"] == {"mutated": "yes"}
        assert [c["name"] for c in stored["spec"]["containers"]] == ["app", "sidecar"]
        assert made.headers.get("warning") == '299 - "sidecar injected by mutate.example.com"'
        review = hooks.reviews("/mutate")[-1]
        assert (review["apiVersion"], review["kind"]) == ("admission.k8s.io/v1", "AdmissionReview")
        request = review["request"]
        assert request["operation"] == "CREATE" and request["namespace"] == ns
        assert request["kind"] == {"group": "", "version": "v1", "kind": "Pod"}
        assert request["resource"] == {"group": "", "version": "v1", "resource": "pods"}
        assert request["requestKind"] == request["kind"] and request["requestResource"] == request["resource"]
        assert request["userInfo"]["username"] == "system:apiserver"
        assert "system:masters" in request["userInfo"]["groups"]
        assert request["dryRun"] is False and request["oldObject"] is None
        assert request["options"]["kind"] == "CreateOptions"
        assert request["object"]["spec"]["containers"][0]["name"] == "app"
        # kubectl shows the webhook's warning
        (tmp_path / "pod.json").write_text(json.dumps(pod("kubectl-pod")))
        result = kernel.kubectl("create", "-n", ns, "-f", str(tmp_path / "pod.json"))
        assert "Warning: sidecar injected by mutate.example.com" in result.stderr
        labels = kernel.kubectl_json("get", "pod", "-n", ns, "kubectl-pod")["metadata"]["labels"]
        assert labels == {"mutated": "yes"}
        # a namespace without the label is not sent to the webhook
        other = namespace(http)
        plain = http.post(f"/api/v1/namespaces/{other}/pods", json=pod("plain"))
        assert plain.status_code == 201 and "labels" not in plain.json()["metadata"]
        assert all(r["request"]["namespace"] != other for r in hooks.reviews("/mutate"))
    finally:
        remove(http, "Mutating", name)


def test_a_validating_webhook_denies_by_name_with_its_message(
        kernel: KernelProcess, http: Any, hooks: Hooks, tmp_path: Any) -> None:
    hooks.routes["/deny"] = deny_bad_names
    ns = namespace(http)
    name = configure(http, "Validating", webhook("deny.example.com", hooks.server.client_config("/deny"),
                                                ["configmaps"]))
    try:
        def attempt(n: int) -> Any:
            made = http.post(f"/api/v1/namespaces/{ns}/configmaps", json=configmap(f"bad-{n}"))
            return made if made.status_code != 201 else None

        refused = eventually(attempt)
        assert refused is not None, "the validating webhook never came into force"
        status = refused.json()
        bad = status["message"].split()[-4]
        assert (refused.status_code, status["reason"] if "reason" in status else "") == (403, "")
        assert status["message"] == (f'admission webhook "deny.example.com" denied the request: '
                                     f"the name {bad} is not allowed")
        assert http.get(f"/api/v1/namespaces/{ns}/configmaps/{bad}").status_code == 404
        assert http.post(f"/api/v1/namespaces/{ns}/configmaps", json=configmap("good")).status_code == 201
        (tmp_path / "cm.json").write_text(json.dumps(configmap("bad-kubectl")))
        result = kernel.kubectl("create", "-n", ns, "-f", str(tmp_path / "cm.json"), check=False)
        assert result.returncode != 0
        assert ('admission webhook "deny.example.com" denied the request: the name bad-kubectl is not allowed'
                in result.stderr)
    finally:
        remove(http, "Validating", name)


def test_namespace_and_object_selectors_are_respected(http: Any, hooks: Hooks) -> None:
    hooks.routes["/deny-all"] = lambda review: deny(review, "guarded")
    guarded, open_ns = namespace(http, {"env": "guarded"}), namespace(http, {"env": "open"})
    name = configure(http, "Validating", webhook(
        "selectors.example.com", hooks.server.client_config("/deny-all"), ["configmaps"],
        namespaceSelector={"matchExpressions": [{"key": "env", "operator": "In", "values": ["guarded"]}]},
        objectSelector={"matchLabels": {"guard": "true"}}))
    try:
        refused = eventually(lambda n: http.post(f"/api/v1/namespaces/{guarded}/configmaps",
                                                 json=configmap(f"cm-{n}", {"guard": "true"})).status_code == 403)
        assert refused, "the webhook never came into force"
        calls = len(hooks.reviews("/deny-all"))
        # the object selector: an unlabelled object is not sent
        assert http.post(f"/api/v1/namespaces/{guarded}/configmaps", json=configmap("free")).status_code == 201
        # the namespace selector: another namespace is not sent
        assert http.post(f"/api/v1/namespaces/{open_ns}/configmaps",
                         json=configmap("elsewhere", {"guard": "true"})).status_code == 201
        # an UPDATE that removes the label is still sent: the old object matches
        assert http.post(f"/api/v1/namespaces/{guarded}/configmaps", json=configmap("later")).status_code == 201
        patched = http.patch(f"/api/v1/namespaces/{guarded}/configmaps/later",
                             json={"metadata": {"labels": {"guard": "true"}}},
                             headers={"Content-Type": "application/merge-patch+json"})
        assert patched.status_code == 403
        assert len(hooks.reviews("/deny-all")) == calls + 1
    finally:
        remove(http, "Validating", name)


def test_a_down_webhook_fails_closed_or_open_by_failure_policy(http: Any, hooks: Hooks) -> None:
    port = free_port()  # nothing listens there
    down = {"url": f"https://127.0.0.1:{port}/validate", "caBundle": hooks.server.ca_bundle}
    ns = namespace(http)
    name = configure(http, "Validating", webhook("down.example.com", down, ["configmaps"], failurePolicy="Fail"))
    try:
        refused = eventually(lambda n: (r := http.post(f"/api/v1/namespaces/{ns}/configmaps",
                                                       json=configmap(f"cm-{n}"))).status_code != 201 and r)
        assert refused, "the webhook never came into force"
        status = refused.json()
        assert (refused.status_code, status["reason"]) == (500, "InternalError")
        assert status["message"] == (
            f'Internal error occurred: failed calling webhook "down.example.com": failed to call webhook: '
            f'Post "https://127.0.0.1:{port}/validate?timeout=10s": dial tcp 127.0.0.1:{port}: connect: '
            "connection refused")
    finally:
        remove(http, "Validating", name)
    # Ignore: admitted; a recording webhook of the same configuration tells when it is in force
    name = configure(http, "Validating",
                     webhook("down.example.com", down, ["configmaps"], failurePolicy="Ignore"),
                     webhook("canary.example.com", hooks.server.client_config("/canary"), ["configmaps"]))
    try:
        def attempt(n: int) -> bool:
            made = http.post(f"/api/v1/namespaces/{ns}/configmaps", json=configmap(f"ignored-{n}"))
            assert made.status_code in (201, 500), made.text
            return made.status_code == 201 and any(r["request"]["name"] == f"ignored-{n}"
                                                   for r in hooks.reviews("/canary"))
        assert eventually(attempt), "Ignore did not admit while the canary was called"
    finally:
        remove(http, "Validating", name)


def test_a_slow_webhook_is_bounded_by_timeout_seconds(http: Any, hooks: Hooks) -> None:
    sleep = 6.0

    def slow(review: dict[str, Any]) -> dict[str, Any]:
        time.sleep(sleep)
        return allow(review)

    hooks.routes["/slow"] = slow
    ns = namespace(http)
    name = configure(http, "Validating", webhook("slow.example.com", hooks.server.client_config("/slow"),
                                                ["configmaps"], timeoutSeconds=1))
    try:
        def attempt(n: int) -> Any:
            started = time.monotonic()
            made = http.post(f"/api/v1/namespaces/{ns}/configmaps", json=configmap(f"cm-{n}"))
            return (made, time.monotonic() - started) if made.status_code != 201 else None

        made, elapsed = eventually(attempt, timeout=30)
        assert elapsed < sleep - 2, elapsed  # cut at timeoutSeconds, long before the webhook answers
        assert made.status_code == 500
        assert made.json()["message"] == (
            'Internal error occurred: failed calling webhook "slow.example.com": failed to call webhook: '
            f'Post "{hooks.server.url("/slow")}?timeout=1s": context deadline exceeded')
    finally:
        remove(http, "Validating", name)


def test_dry_run_requests_reach_only_webhooks_without_side_effects(kernel: KernelProcess, http: Any,
                                                                     hooks: Hooks, tmp_path: Any) -> None:
    """v1 webhooks declare None or NoneOnDryRun (Some/Unknown are refused by validation): both are
    called for a dry run with ``dryRun: true`` and nothing is stored."""
    hooks.routes["/dry"] = deny_bad_names
    ns = namespace(http)
    name = configure(http, "Validating", webhook("dry.example.com", hooks.server.client_config("/dry"),
                                                ["configmaps"], sideEffects="NoneOnDryRun"))
    try:
        refused = eventually(lambda n: http.post(f"/api/v1/namespaces/{ns}/configmaps", json=configmap(f"bad-{n}"),
                                                 params={"dryRun": "All"}).status_code == 403)
        assert refused, "the webhook never came into force"
        assert hooks.reviews("/dry")[-1]["request"]["dryRun"] is True
        (tmp_path / "cm.json").write_text(json.dumps(configmap("good-dry")))
        kernel.kubectl("create", "-n", ns, "-f", str(tmp_path / "cm.json"), "--dry-run=server")
        review = hooks.reviews("/dry")[-1]["request"]
        assert (review["name"], review["dryRun"], review["options"]["dryRun"]) == ("good-dry", True, ["All"])
        assert http.get(f"/api/v1/namespaces/{ns}/configmaps/good-dry").status_code == 404
    finally:
        remove(http, "Validating", name)


def test_reinvocation_if_needed_calls_a_webhook_again_after_a_later_change(http: Any, hooks: Hooks) -> None:
    """first (IfNeeded) records whether it saw second's label; second (Never) adds it: first is
    called again and sees it."""
    def first(review: dict[str, Any]) -> dict[str, Any]:
        labels = review["request"]["object"]["metadata"].get("labels") or {}
        seen = "true" if "second" in labels else "false"
        if labels.get("first-saw-second") == seen:
            return allow(review)
        return json_patch(review, [{"op": "add", "path": "/metadata/labels/first-saw-second", "value": seen}])

    def second(review: dict[str, Any]) -> dict[str, Any]:
        labels = review["request"]["object"]["metadata"].get("labels") or {}
        if "second" in labels:
            return allow(review)
        return json_patch(review, [{"op": "add", "path": "/metadata/labels/second", "value": "added"}])

    hooks.routes["/first"], hooks.routes["/second"] = first, second
    ns = namespace(http)
    selector = {"objectSelector": {"matchLabels": {"reinvoke": "yes"}}}
    name = configure(http, "Mutating",
                     webhook("first.example.com", hooks.server.client_config("/first"), ["configmaps"],
                             reinvocationPolicy="IfNeeded", **selector),
                     webhook("second.example.com", hooks.server.client_config("/second"), ["configmaps"],
                             **selector))
    try:
        def attempt(n: int) -> Any:
            made = http.post(f"/api/v1/namespaces/{ns}/configmaps", json=configmap(f"cm-{n}", {"reinvoke": "yes"}))
            assert made.status_code == 201, made.text
            return made.json() if "second" in made.json()["metadata"]["labels"] else None

        made = eventually(attempt)
        assert made, "the webhooks never came into force"
        assert made["metadata"]["labels"] == {"reinvoke": "yes", "second": "added", "first-saw-second": "true"}
        cm = made["metadata"]["name"]
        calls = [r for r in hooks.reviews("/first") if r["request"]["name"] == cm]
        assert len(calls) == 2
        assert len([r for r in hooks.reviews("/second") if r["request"]["name"] == cm]) == 1
    finally:
        remove(http, "Mutating", name)


def test_a_service_client_config_is_resolved_through_its_endpoints(http: Any, hooks: Hooks) -> None:
    """The Service ``hook`` in ``webhooks`` has Endpoints at 127.0.0.1 (the test's server, whose
    certificate names hook.webhooks.svc)."""
    hooks.routes["/svc-deny"] = deny_bad_names
    if http.get("/api/v1/namespaces/webhooks").status_code == 404:
        assert http.post("/api/v1/namespaces", json={"metadata": {"name": "webhooks"}}).status_code == 201
    service = {"metadata": {"name": "hook"}, "spec": {"ports": [{"name": "https", "port": 443, "targetPort": 8443}]}}
    made = http.post("/api/v1/namespaces/webhooks/services", json=service)
    assert made.status_code == 201, made.text
    endpoints = {"metadata": {"name": "hook"}, "subsets": [{"addresses": [{"ip": "127.0.0.1"}],
                                                            "ports": [{"name": "https", "port": hooks.server.port}]}]}
    made = http.post("/api/v1/namespaces/webhooks/endpoints", json=endpoints)
    assert made.status_code == 201, made.text
    ns = namespace(http)
    config = hooks.server.service_config("webhooks", "hook", "/svc-deny")
    name = configure(http, "Validating", webhook("svc.example.com", config, ["configmaps"]))
    try:
        refused = eventually(lambda n: (r := http.post(f"/api/v1/namespaces/{ns}/configmaps",
                                                       json=configmap(f"bad-{n}"))).status_code != 201 and r)
        assert refused, "the webhook never came into force"
        assert refused.status_code == 403, refused.text
        assert refused.json()["message"].startswith('admission webhook "svc.example.com" denied the request: ')
        path, headers, _ = [r for r in list(hooks.server.requests) if r[0].startswith("/svc-deny")][-1]
        assert headers["Host"] == "hook.webhooks.svc:443"
        assert http.post(f"/api/v1/namespaces/{ns}/configmaps", json=configmap("good")).status_code == 201
    finally:
        remove(http, "Validating", name)
    # a service that does not exist: kube's call failure
    missing = {"service": {"namespace": "webhooks", "name": "nothing", "path": "/x"}, "caBundle": hooks.server.ca_bundle}
    name = configure(http, "Validating", webhook("missing.example.com", missing, ["configmaps"]))
    try:
        refused = eventually(lambda n: (r := http.post(f"/api/v1/namespaces/{ns}/configmaps",
                                                       json=configmap(f"m-{n}"))).status_code != 201 and r)
        assert refused.json()["message"].startswith(
            'Internal error occurred: failed calling webhook "missing.example.com": failed to call webhook: '
            'Post "https://nothing.webhooks.svc:443/x?timeout=10s": ')
    finally:
        remove(http, "Validating", name)


def test_match_conditions_select_requests_in_cel(http: Any, hooks: Hooks) -> None:
    hooks.routes["/mc"] = lambda review: deny(review, "matched")
    ns = namespace(http)
    conditions = [{"name": "mc-prefix", "expression": "object.metadata.name.startsWith('mc-')"},
                  {"name": "not-admin", "expression": "request.userInfo.username != 'nobody'"},
                  # the server's authorizer (AlwaysAllow here), through kube's CEL authorizer library
                  {"name": "may-get", "expression":
                   "authorizer.group('').resource('secrets').namespace('x').check('get').allowed() && "
                   "authorizer.requestResource.check('create').allowed()"}]
    name = configure(http, "Validating", webhook("mc.example.com", hooks.server.client_config("/mc"), ["configmaps"],
                                                matchConditions=conditions))
    try:
        refused = eventually(lambda n: http.post(f"/api/v1/namespaces/{ns}/configmaps",
                                                 json=configmap(f"mc-{n}")).status_code == 403)
        assert refused, "the webhook never came into force"
        calls = len(hooks.reviews("/mc"))
        assert http.post(f"/api/v1/namespaces/{ns}/configmaps", json=configmap("other")).status_code == 201
        assert len(hooks.reviews("/mc")) == calls  # a false condition: not called
    finally:
        remove(http, "Validating", name)
    # an evaluation error under failurePolicy Fail refuses, kube's Forbidden
    failing = [{"name": "bad-key", "expression": "object.data.nope == 'x'"}]
    name = configure(http, "Validating", webhook("mcfail.example.com", hooks.server.client_config("/allow"),
                                                ["configmaps"], matchConditions=failing))
    try:
        refused = eventually(lambda n: (r := http.post(f"/api/v1/namespaces/{ns}/configmaps",
                                                       json=configmap(f"e-{n}"))).status_code != 201 and r)
        assert refused, "the webhook never came into force"
        status = refused.json()
        assert (refused.status_code, status["reason"]) == (403, "Forbidden")
        cm = status["details"]["name"]
        assert status["message"].startswith(f'configmaps "{cm}" is forbidden: expression '
                                            "'object.data.nope == 'x'' resulted in error: ")
    finally:
        remove(http, "Validating", name)
