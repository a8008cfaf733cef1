"""The admission contract suite (kernel.testing.contracts) for MutatingAdmissionWebhook and
ValidatingAdmissionWebhook, with configurations from --admission-webhook-static-manifests-dir and a
REAL HTTPS webhook: in process (the plugins built from the same manifests) and in ``kernel serve``."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kernel.testing.contracts import UNCHANGED, AdmissionCase, AdmissionContract, Mutated, Refused, request
from kernel_webhook.testing import WebhookServer

from kernel_admission_webhook import manifests
from kernel_admission_webhook.dispatcher import Configurations, Dispatcher
from kernel_admission_webhook.mutating import MutatingWebhooks
from kernel_admission_webhook.validating import ValidatingWebhooks

RULE = {"operations": ["CREATE", "DELETE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["configmaps"]}


def label_it(path: str, review: dict[str, Any]) -> dict[str, Any]:
    response: dict[str, Any] = {"uid": review["request"]["uid"], "allowed": True}
    obj = review["request"]["object"]
    if path == "/label" and obj is not None:
        operations = [{"op": "add", "path": "/metadata/labels/webhook", "value": "was-here"}]
        if not obj["metadata"].get("labels"):
            operations.insert(0, {"op": "add", "path": "/metadata/labels", "value": {}})
        response.update(patchType="JSONPatch", patch=base64.b64encode(json.dumps(operations).encode()).decode())
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "response": response}


def configmap(name: str, labels: dict[str, str] | None = None, **data: str) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, **({"labels": labels} if labels else {})}
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": data or {"k": "v"}}


@pytest.fixture(scope="module")
def manifests_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    with WebhookServer(label_it) as server:
        directory = tmp_path_factory.mktemp("webhook-manifests")
        hook = {"clientConfig": server.client_config("/label"), "rules": [RULE], "sideEffects": "None",
                "admissionReviewVersions": ["v1"], "objectSelector": {"matchLabels": {"label-me": "yes"}}}
        mutating = {"apiVersion": manifests.API_VERSION, "kind": "MutatingWebhookConfiguration",
                    "metadata": {"name": "contract"}, "webhooks": [{**hook, "name": "label.example.com"}]}
        conditions = [{"name": "strict", "expression": "object.data.strict == 'yes'"}]
        validating = {"apiVersion": manifests.API_VERSION, "kind": "ValidatingWebhookConfiguration",
                      "metadata": {"name": "contract"},
                      "webhooks": [{**hook, "name": "check.example.com", "clientConfig": server.client_config("/check"),
                                    "objectSelector": {"matchLabels": {"check-me": "yes"}},
                                    "matchConditions": conditions}]}
        (directory / "mutating.yaml").write_text(json.dumps(mutating))
        (directory / "validating.json").write_text(json.dumps(validating))
        yield directory


class WebhookContract(AdmissionContract):
    plugin = "admission_webhook"

    @pytest.fixture
    def kernel_args(self, manifests_dir: Path) -> list[str]:
        return [f"--admission-webhook-static-manifests-dir={manifests_dir}", "--authorization-mode=AlwaysAllow"]


class TestMutatingAdmissionWebhookContract(WebhookContract):
    name = "MutatingAdmissionWebhook"

    @pytest.fixture
    def admission(self, manifests_dir: Path) -> MutatingWebhooks:
        hooks = manifests.static_hooks(str(manifests_dir), mutating=True)
        return MutatingWebhooks(Dispatcher(Configurations(None, True, hooks), None, None, None))

    @pytest.fixture
    def cases(self) -> list[AdmissionCase]:
        return [
            AdmissionCase(request("CREATE", "configmaps", "default", configmap("wh-a", {"label-me": "yes"})),
                          Mutated(configmap("wh-a", {"label-me": "yes", "webhook": "was-here"}))),
            AdmissionCase(request("CREATE", "configmaps", "default", configmap("wh-b")), UNCHANGED),
            AdmissionCase(request("DELETE", "configmaps", "default", None, name="wh-c",
                                  old=configmap("wh-c", {"label-me": "yes"})), UNCHANGED),
        ]


class TestValidatingAdmissionWebhookContract(WebhookContract):
    name = "ValidatingAdmissionWebhook"

    @pytest.fixture
    def admission(self, manifests_dir: Path) -> ValidatingWebhooks:
        hooks = manifests.static_hooks(str(manifests_dir), mutating=False)
        return ValidatingWebhooks(Dispatcher(Configurations(None, False, hooks), None, None, None))

    @pytest.fixture
    def cases(self) -> list[AdmissionCase]:
        # a matchCondition that fails to evaluate under failurePolicy Fail: kube's Forbidden
        error = "expression 'object.data.strict == 'yes'' resulted in error: no such key: strict"
        return [
            AdmissionCase(request("CREATE", "configmaps", "default", configmap("wh-d", {"check-me": "yes"}, strict="yes")),
                          UNCHANGED),
            AdmissionCase(request("CREATE", "configmaps", "default", configmap("wh-e", {"check-me": "yes"})),
                          Refused(error)),
            AdmissionCase(request("CREATE", "configmaps", "default", configmap("wh-f")), UNCHANGED),
        ]
