"""Types from a built-in kind's OpenAPI v3, as the kernel serves it (``$ref``s resolved through
the document's components), the way ValidatingAdmissionPolicy type-checks ``object``."""

from __future__ import annotations

import pytest

from kernel.testing import start_kernel
from kernel_cel import CompileError, Environment, schema_type

DEPLOYMENT = {"apiVersion": "apps/v1", "kind": "Deployment",
              "metadata": {"name": "web", "labels": {"app": "web"}, "creationTimestamp": "2024-05-01T10:00:00Z"},
              "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
                       "strategy": {"rollingUpdate": {"maxSurge": "25%"}},
                       "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [
                           {"name": "web", "image": "registry.example.com/web:1",
                            "resources": {"limits": {"cpu": "500m"}}}]}}}}


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Environment:
    kernel = start_kernel(tmp_path_factory.mktemp("cel-openapi"), "--plugins=api_core,api_apps,storage_memory",
                          "--authorization-mode=AlwaysAllow")
    try:
        document = kernel.client().get("/openapi/v3/apis/apps/v1").json()
    finally:
        kernel.stop()
    components = document["components"]["schemas"]
    decl = schema_type({"$ref": "#/components/schemas/io.k8s.api.apps.v1.Deployment"},
                       resolve=lambda ref: components.get(ref.rsplit("/", 1)[-1]), resource_root=True)
    return Environment(variables={"object": decl, "oldObject": decl}, library="admission")


@pytest.mark.parametrize("expression, expected", [
    ("object.spec.replicas > 1", True),
    ("object.spec.template.spec.containers.all(c, c.image.startsWith('registry.example.com/'))", True),
    ("object.metadata.labels.app == 'web'", True),  # the full ObjectMeta, not just name
    ("object.metadata.creationTimestamp < timestamp('2025-01-01T00:00:00Z')", True),
    ("object.spec.strategy.rollingUpdate.maxSurge == '25%'", True),  # int-or-string: dyn
    ("quantity(object.spec.template.spec.containers[0].resources.limits['cpu']).isLessThan(quantity('1'))", True),
])
def test_deployment_rules(env: Environment, expression: str, expected: object):
    program = env.compile(expression)
    assert program.eval({"object": DEPLOYMENT, "oldObject": DEPLOYMENT}) == expected


@pytest.mark.parametrize("expression, detail", [
    ("object.spec.nope", "undefined field 'nope'"),
    ("object.spec.template.spec.containers.all(c, c.imag == '')", "undefined field 'imag'"),
    ("object.spec.replicas == 'three'", "found no matching overload for '_==_' applied to '(int, string)'"),
])
def test_deployment_field_errors(env: Environment, expression: str, detail: str):
    with pytest.raises(CompileError) as error:
        env.compile(expression)
    assert detail in str(error.value)
