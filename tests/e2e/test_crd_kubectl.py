"""CustomResourceDefinitions with real kubectl and the `kubernetes` Python client's dynamic client:
apply a CRD, wait for Established, create/list (printer columns)/patch/watch custom resources,
a schema violation answered with kube's Invalid and field paths, pruning, defaulting, explain,
the status subresource, and deleting the CRD with its objects."""

from __future__ import annotations

import subprocess
import time

import pytest

from kernel.testing import KUBECTL, KernelProcess, start_kernel

PLUGINS = "--plugins=api_core,api_apiextensions,storage_memory"
WAIT = 60.0  # only bounds a hang

CRD = """
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: crontabs.stable.example.com
spec:
  group: stable.example.com
  scope: Namespaced
  names:
    plural: crontabs
    singular: crontab
    kind: CronTab
    shortNames: [ct]
  versions:
  - name: v1
    served: true
    storage: true
    subresources:
      status: {}
    additionalPrinterColumns:
    - name: Spec
      type: string
      description: The cron spec defining the interval a CronJob is run
      jsonPath: .spec.cronSpec
    - name: Replicas
      type: integer
      jsonPath: .spec.replicas
    - name: Age
      type: date
      jsonPath: .metadata.creationTimestamp
    schema:
      openAPIV3Schema:
        type: object
        description: CronTab runs an image on a schedule.
        properties:
          spec:
            type: object
            description: What the CronTab runs.
            properties:
              cronSpec:
                type: string
                description: The schedule, in cron format.
                pattern: '^(\\d+|\\*)(/\\d+)?(\\s+(\\d+|\\*)(/\\d+)?){4}$'
              image:
                type: string
              replicas:
                type: integer
                minimum: 1
                maximum: 10
                default: 1
          status:
            type: object
            properties:
              phase:
                type: string
"""

CRONTAB = """
apiVersion: stable.example.com/v1
kind: CronTab
metadata:
  name: my-cron
spec:
  cronSpec: "* * * * */5"
  image: my-cron-image
  unknownField: dropped
"""
KNOWN = CRONTAB.replace("  unknownField: dropped\n", "")


@pytest.fixture(scope="module")
def kernel(tmp_path_factory: pytest.TempPathFactory):
    kernel = start_kernel(tmp_path_factory.mktemp("crd-kubectl"), PLUGINS,
                          "--authorization-mode=AlwaysAllow")
    kernel.kubectl("apply", "-f", "-", input=CRD)
    kernel.kubectl("wait", "--for=condition=Established", "--timeout=60s",
                   "crd/crontabs.stable.example.com")
    yield kernel
    kernel.stop()


def test_create_list_columns_pruned_defaulted(kernel: KernelProcess) -> None:
    # kubectl asks for fieldValidation=Strict: an unknown field is refused as kube refuses it ...
    strict = kernel.kubectl("apply", "-f", "-", input=CRONTAB, check=False)
    assert strict.returncode != 0
    assert 'strict decoding error: unknown field "spec.unknownField"' in strict.stderr
    # ... and without validation it is pruned
    kernel.kubectl("apply", "--validate=false", "-f", "-", input=CRONTAB)
    obj = kernel.kubectl_json("get", "crontab", "my-cron")
    assert obj["spec"] == {"cronSpec": "* * * * */5", "image": "my-cron-image", "replicas": 1}
    table = kernel.kubectl("get", "ct").stdout.splitlines()
    assert table[0].split() == ["NAME", "SPEC", "REPLICAS", "AGE"]
    assert table[1].split()[:7] == ["my-cron", "*", "*", "*", "*", "*/5", "1"]
    kernel.kubectl("patch", "crontab", "my-cron", "--type=merge", "-p", '{"spec":{"replicas":3}}')
    assert kernel.kubectl_json("get", "crontab", "my-cron")["spec"]["replicas"] == 3
    kernel.kubectl("apply", "--validate=false", "-f", "-",
                   input=CRONTAB.replace("my-cron-image", "other"))
    assert kernel.kubectl_json("get", "crontab", "my-cron")["spec"]["image"] == "other"


def test_crd_applied_again_with_a_new_column(kernel: KernelProcess) -> None:
    changed = CRD.replace("    - name: Age\n", "    - name: Image\n      type: string\n"
                          "      jsonPath: .spec.image\n    - name: Age\n")
    kernel.kubectl("apply", "-f", "-", input=changed)
    kernel.kubectl("apply", "-f", "-", input=KNOWN.replace("my-cron", "image-cron"))
    deadline = time.monotonic() + WAIT
    while True:  # the new column is served once the controller installed the changed CRD
        header = kernel.kubectl("get", "crontab", "image-cron").stdout.splitlines()[0].split()
        if header == ["NAME", "SPEC", "REPLICAS", "IMAGE", "AGE"] or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert header == ["NAME", "SPEC", "REPLICAS", "IMAGE", "AGE"]
    kernel.kubectl("apply", "-f", "-", input=CRD)


def test_schema_violation_is_invalid_with_field_paths(kernel: KernelProcess) -> None:
    bad = CRONTAB.replace("my-cron", "bad-cron").replace('"* * * * */5"', "nope") \
        .replace("unknownField: dropped", "replicas: 20")
    result = kernel.kubectl("apply", "-f", "-", input=bad, check=False)
    assert result.returncode != 0
    assert 'The CronTab "bad-cron" is invalid' in result.stderr
    assert "spec.replicas: Invalid value: 20: spec.replicas in body should be less than or " \
        "equal to 10" in result.stderr
    assert 'spec.cronSpec: Invalid value: "nope": spec.cronSpec in body should match' in result.stderr
    assert kernel.kubectl("get", "crontab", "bad-cron", check=False).returncode != 0


def test_explain_and_status_subresource(kernel: KernelProcess) -> None:
    explained = kernel.kubectl("explain", "crontab.spec").stdout
    assert "cronSpec" in explained and "The schedule, in cron format." in explained
    kernel.kubectl("apply", "-f", "-", input=KNOWN.replace("my-cron", "status-cron"))
    kernel.kubectl("patch", "crontab", "status-cron", "--subresource=status", "--type=merge",
                   "-p", '{"status":{"phase":"Running"}}')
    status = kernel.kubectl_json("get", "crontab", "status-cron", "--subresource=status")
    assert status["status"] == {"phase": "Running"}


def test_watch_sees_changes(kernel: KernelProcess) -> None:
    watch = subprocess.Popen([KUBECTL, "--kubeconfig", kernel.kubeconfig, "get", "crontabs",
                              "--watch", "-o", "name"], stdout=subprocess.PIPE, text=True,
                             env=kernel.kubectl_env)
    try:
        kernel.kubectl("apply", "-f", "-", input=KNOWN.replace("my-cron", "watched-cron"))
        deadline = time.monotonic() + WAIT
        seen = []
        assert watch.stdout is not None
        while "crontab.stable.example.com/watched-cron" not in seen:
            assert time.monotonic() < deadline, seen
            seen.append(watch.stdout.readline().strip())
    finally:
        watch.kill()
        watch.wait()


def test_python_dynamic_client(kernel: KernelProcess) -> None:
    from kubernetes import client as k8s, config, dynamic

    configuration = k8s.Configuration()
    config.load_kube_config(config_file=kernel.kubeconfig, client_configuration=configuration)
    client = dynamic.DynamicClient(k8s.ApiClient(configuration))
    crontabs = client.resources.get(api_version="stable.example.com/v1", kind="CronTab")
    created = crontabs.create(namespace="default", body={
        "apiVersion": "stable.example.com/v1", "kind": "CronTab",
        "metadata": {"name": "dynamic-cron"}, "spec": {"cronSpec": "* * * * *", "image": "x"}})
    assert created.spec.replicas == 1
    names = [item.metadata.name for item in crontabs.get(namespace="default").items]
    assert "dynamic-cron" in names
    crontabs.delete(namespace="default", name="dynamic-cron")
    assert "dynamic-cron" not in [i.metadata.name for i in crontabs.get(namespace="default").items]


def test_python_custom_objects_api_and_watch(kernel: KernelProcess) -> None:
    from kubernetes import client as k8s, config, watch

    configuration = k8s.Configuration()
    config.load_kube_config(config_file=kernel.kubeconfig, client_configuration=configuration)
    api = k8s.CustomObjectsApi(k8s.ApiClient(configuration))
    args = ("stable.example.com", "v1", "default", "crontabs")
    api.create_namespaced_custom_object(*args, body={
        "apiVersion": "stable.example.com/v1", "kind": "CronTab",
        "metadata": {"name": "objects-cron"}, "spec": {"cronSpec": "* * * * *", "image": "x"}})
    patched = api.patch_namespaced_custom_object(*args, "objects-cron", {"spec": {"replicas": 2}})
    assert patched["spec"]["replicas"] == 2
    status = api.patch_namespaced_custom_object_status(*args, "objects-cron",
                                                       {"status": {"phase": "Done"}})
    assert status["status"] == {"phase": "Done"}
    listed = api.list_namespaced_custom_object(*args)
    version = listed["metadata"]["resourceVersion"]
    api.delete_namespaced_custom_object(*args, "objects-cron")
    events = []
    for event in watch.Watch().stream(api.list_namespaced_custom_object, *args,
                                      resource_version=version, timeout_seconds=10):
        events.append((event["type"], event["object"]["metadata"]["name"]))
        if event["type"] == "DELETED":
            break
    assert ("DELETED", "objects-cron") in events


def test_zz_deleting_the_crd_deletes_its_objects(kernel: KernelProcess) -> None:
    assert kernel.kubectl_json("get", "crontabs")["items"]
    kernel.kubectl("delete", "crd", "crontabs.stable.example.com", "--timeout=60s")
    result = kernel.kubectl("get", "crontabs", check=False)
    assert result.returncode != 0
    # kubectl's cached discovery may still map the kind: then the list itself is a 404
    assert ("doesn't have a resource type" in result.stderr
            or "the server could not find the requested resource" in result.stderr), result.stderr
    with kernel.client() as client:
        assert client.get("/apis/stable.example.com/v1").status_code == 404
    # Created again, nothing of the old objects is left.
    kernel.kubectl("apply", "-f", "-", input=CRD)
    kernel.kubectl("wait", "--for=condition=Established", "--timeout=60s",
                   "crd/crontabs.stable.example.com")
    assert kernel.kubectl_json("get", "crontabs")["items"] == []


def test_python_typed_client_reads_crds(kernel: KernelProcess) -> None:
    from kubernetes import client as k8s, config

    configuration = k8s.Configuration()
    config.load_kube_config(config_file=kernel.kubeconfig, client_configuration=configuration)
    api = k8s.ApiextensionsV1Api(k8s.ApiClient(configuration))
    crd = api.read_custom_resource_definition("crontabs.stable.example.com")
    assert crd.status.accepted_names.kind == "CronTab"
    assert {c.type: c.status for c in crd.status.conditions}["Established"] == "True"
    assert crd.status.stored_versions == ["v1"]
    listed = api.list_custom_resource_definition()
    assert "crontabs.stable.example.com" in [i.metadata.name for i in listed.items]
