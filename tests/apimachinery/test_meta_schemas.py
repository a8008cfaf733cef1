"""The shared meta component schemas: kube's names, extensions and self-contained references."""

from __future__ import annotations

from typing import Any

from kernel.apimachinery.schemas import (
    FIELDS_V1,
    LIST_META,
    MANAGED_FIELDS_ENTRY,
    OBJECT_META,
    OWNER_REFERENCE,
    TIME,
    list_schema,
    meta_schemas,
    object_meta_description,
)


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if "$ref" in node else []
        return found + [r for value in node.values() for r in _refs(value)]
    if isinstance(node, list):
        return [r for value in node for r in _refs(value)]
    return []


def test_meta_schemas_are_the_six_meta_types() -> None:
    assert set(meta_schemas()) == {OBJECT_META, LIST_META, TIME, OWNER_REFERENCE, MANAGED_FIELDS_ENTRY, FIELDS_V1}
    assert OBJECT_META == "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"


def test_every_reference_resolves_within_the_meta_schemas() -> None:
    schemas = meta_schemas()
    refs = _refs(schemas)
    assert refs, "ObjectMeta refers to Time, OwnerReference and ManagedFieldsEntry"
    assert all(r.startswith("#/components/schemas/") for r in refs)
    assert {r.rsplit("/", 1)[1] for r in refs} <= set(schemas)


def test_object_meta_fields_and_strategic_merge_extensions() -> None:
    meta = meta_schemas()[OBJECT_META]["properties"]
    assert set(meta) == {"annotations", "creationTimestamp", "deletionGracePeriodSeconds", "deletionTimestamp",
                         "finalizers", "generateName", "generation", "labels", "managedFields", "name",
                         "namespace", "ownerReferences", "resourceVersion", "selfLink", "uid"}
    assert meta["finalizers"]["x-kubernetes-patch-strategy"] == "merge"
    assert meta["finalizers"]["x-kubernetes-list-type"] == "set"
    owners = meta["ownerReferences"]
    assert (owners["x-kubernetes-patch-strategy"], owners["x-kubernetes-patch-merge-key"]) == ("merge", "uid")
    assert (owners["x-kubernetes-list-type"], owners["x-kubernetes-list-map-keys"]) == ("map", ["uid"])
    assert meta["managedFields"]["x-kubernetes-list-type"] == "atomic"
    assert meta["creationTimestamp"]["allOf"] == [{"$ref": f"#/components/schemas/{TIME}"}]
    assert all(p.get("description") for p in meta.values())


def test_scalar_meta_types() -> None:
    schemas = meta_schemas()
    assert (schemas[TIME]["type"], schemas[TIME]["format"]) == ("string", "date-time")
    assert schemas[FIELDS_V1]["type"] == "object" and "properties" not in schemas[FIELDS_V1]
    assert schemas[OWNER_REFERENCE]["required"] == ["apiVersion", "kind", "name", "uid"]
    assert schemas[LIST_META]["properties"]["remainingItemCount"]["format"] == "int64"


def test_meta_schemas_are_fresh_copies() -> None:
    first = meta_schemas()
    first[OBJECT_META]["properties"]["name"]["type"] = "integer"
    assert meta_schemas()[OBJECT_META]["properties"]["name"]["type"] == "string"


def test_object_meta_description_is_kubes_swagger_doc() -> None:
    assert object_meta_description("name").startswith("Name must be unique within a namespace.")


def test_list_schema_shape() -> None:
    schema = list_schema("apps", "v1", "Deployment", "io.k8s.api.apps.v1.Deployment", "d", "items d")
    assert schema["x-kubernetes-group-version-kind"] == [{"group": "apps", "kind": "DeploymentList",
                                                         "version": "v1"}]
    assert schema["required"] == ["items"]
    assert schema["properties"]["items"]["items"]["allOf"][0]["$ref"].endswith("apps.v1.Deployment")
