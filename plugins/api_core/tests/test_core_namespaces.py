"""Namespace strategies (main resource, status, finalize), name rule and field selectors."""

from __future__ import annotations

import copy

from kernel_api_core.namespaces import (
    FINALIZE_STRATEGY,
    NAME_LABEL,
    STATUS_STRATEGY,
    namespace_spec,
    validate_namespace_name,
)

STRATEGY = namespace_spec.strategy
QUALIFIED_NAME_PART = (
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
    "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
    "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')")


def _ns(name: str = "team-a", **extra) -> dict:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}, **extra}


def _stored() -> dict:
    obj = _ns(spec={"finalizers": ["example.com/x"]})
    STRATEGY.prepare_for_create(obj)
    obj["metadata"].update(resourceVersion="5", uid="u")
    return obj


def test_create_sets_active_phase_and_the_kubernetes_finalizer() -> None:
    obj = _ns(status={"phase": "Terminating", "conditions": [{"type": "X", "status": "True"}]})
    STRATEGY.prepare_for_create(obj)
    assert obj["status"] == {"phase": "Active"}
    assert obj["spec"] == {"finalizers": ["kubernetes"]}
    assert obj["metadata"]["labels"] == {NAME_LABEL: "team-a"}


def test_create_appends_kubernetes_to_client_finalizers_once() -> None:
    obj = _ns(spec={"finalizers": ["example.com/x"]})
    STRATEGY.prepare_for_create(obj)
    assert obj["spec"]["finalizers"] == ["example.com/x", "kubernetes"]
    again = _ns(spec={"finalizers": ["kubernetes", "example.com/x"]})
    STRATEGY.prepare_for_create(again)
    assert again["spec"]["finalizers"] == ["kubernetes", "example.com/x"]


def test_name_label_is_forced_to_the_name() -> None:
    obj = _ns(metadata={"name": "team-a", "labels": {NAME_LABEL: "other", "keep": "me"}})
    STRATEGY.prepare_for_create(obj)
    assert obj["metadata"]["labels"] == {NAME_LABEL: "team-a", "keep": "me"}


def test_update_through_the_main_resource_keeps_spec_finalizers_and_status() -> None:
    old = _stored()
    new = copy.deepcopy(old)
    new["spec"] = {"finalizers": []}
    new["status"] = {"phase": "Terminating"}
    new["metadata"]["labels"] = {"team": "a"}
    STRATEGY.prepare_for_update(new, old)
    assert new["spec"]["finalizers"] == ["example.com/x", "kubernetes"]
    assert new["status"] == {"phase": "Active"}
    assert new["metadata"]["labels"] == {"team": "a", NAME_LABEL: "team-a"}
    assert new["spec"]["finalizers"] is not old["spec"]["finalizers"]  # no aliasing into the stored object
    assert STRATEGY.validate_update(new, old) == []


def test_status_update_keeps_the_spec_and_takes_the_status() -> None:
    old = _stored()
    new = copy.deepcopy(old)
    new["spec"] = {"finalizers": []}
    new["status"] = {"phase": "Active", "conditions": [{"type": "NamespaceDeletionDiscoveryFailure",
                                                        "status": "False"}]}
    STATUS_STRATEGY.prepare_for_update(new, old)
    assert new["spec"] == old["spec"]
    assert new["status"]["conditions"][0]["status"] == "False"
    assert STATUS_STRATEGY.validate_update(new, old) == []


def test_status_phase_must_agree_with_deletion() -> None:
    old = _stored()
    terminating = copy.deepcopy(old)
    terminating["status"] = {"phase": "Terminating"}
    (error,) = STATUS_STRATEGY.validate_update(terminating, old)
    assert str(error) == ("status.Phase: Invalid value: \"Terminating\": may only be 'Active' if "
                          "`deletionTimestamp` is empty")
    deleting = copy.deepcopy(old)
    deleting["metadata"]["deletionTimestamp"] = "2024-05-01T10:00:00Z"
    (error,) = STATUS_STRATEGY.validate_update(deleting, old)
    assert str(error) == ("status.Phase: Invalid value: \"Active\": may only be 'Terminating' if "
                          "`deletionTimestamp` is not empty")
    deleting["status"] = {"phase": "Terminating"}
    assert STATUS_STRATEGY.validate_update(deleting, old) == []


def test_finalize_changes_only_spec_finalizers_and_checks_each_by_index() -> None:
    old = _stored()
    new = copy.deepcopy(old)
    new["spec"] = {"finalizers": ["example.com/x", "bogus"]}
    new["status"] = {"phase": "Terminating"}
    FINALIZE_STRATEGY.prepare_for_update(new, old)
    assert new["status"] == {"phase": "Active"} and new["spec"]["finalizers"] == ["example.com/x", "bogus"]
    (error,) = FINALIZE_STRATEGY.validate_update(new, old)
    assert str(error) == ('spec.finalizers[1]: Invalid value: "bogus": name is neither a standard finalizer '
                          "name nor is it fully qualified")
    new["spec"]["finalizers"] = []
    assert FINALIZE_STRATEGY.validate_update(new, old) == []


def test_validate_finalizer_names_on_the_list_path() -> None:
    obj = _ns(spec={"finalizers": ["kubernetes", "orphan", "example.com/ok", "custom", "bad name"]})
    messages = [str(e) for e in STRATEGY.validate(obj)]
    assert messages == [
        'spec.finalizers: Invalid value: "custom": name is neither a standard finalizer name nor is it '
        "fully qualified",
        f'spec.finalizers: Invalid value: "bad name": {QUALIFIED_NAME_PART}',
        'spec.finalizers: Invalid value: "bad name": name is neither a standard finalizer name nor is it '
        "fully qualified",
    ]
    assert {e.type for e in STRATEGY.validate(obj)} == {"FieldValueInvalid"}


def test_namespace_names_are_dns_labels() -> None:
    assert namespace_spec.name_validator is validate_namespace_name
    assert validate_namespace_name("team-a") == []
    assert validate_namespace_name("a.b") == ["must not contain dots"]
    assert validate_namespace_name("Team") == [
        "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start "
        "and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is "
        "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')"]
    assert validate_namespace_name("x" * 64) == ["must be no more than 63 characters"]
    assert validate_namespace_name("team-", prefix=True) == []  # a generateName prefix
    assert validate_namespace_name("team-") != []


def test_field_selectors() -> None:
    obj = _stored()
    assert STRATEGY.field_selectors(obj) == {"status.phase": "Active", "name": "team-a"}
    assert STRATEGY.field_selectors(_ns()) == {"status.phase": "", "name": "team-a"}


def test_namespaces_cannot_be_created_by_put() -> None:
    assert STRATEGY.allow_create_on_update is False and STRATEGY.allow_unconditional_update is True
