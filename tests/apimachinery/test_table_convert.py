"""Server-side printing: HumanDuration, Age, Table and PartialObjectMetadata shapes."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from kernel.registry.resource import TableColumn
from kernel.apimachinery.status import StatusError
from kernel.endpoints.table import (
    AGE_COLUMN,
    DEFAULT_COLUMNS,
    NAME_COLUMN,
    age,
    build_table,
    created_at,
    human_duration,
    partial_object_metadata,
    partial_object_metadata_list,
)

S, MS, NS = 1.0, 0.001, 1e-9
M, H, D, Y = 60 * S, 3600 * S, 86400 * S, 365 * 86400 * S

# kube's duration_test.go, TestHumanDuration and TestHumanDurationBoundaries.
HUMAN_DURATIONS = [
    (S, "1s"), (70 * S, "70s"), (190 * S, "3m10s"), (70 * M, "70m"), (47 * H, "47h"), (49 * H, "2d1h"),
    ((8 * 24 + 2) * H, "8d"), (367 * D, "367d"), (2 * Y + 25 * H, "2y1d"), (8 * Y + 2 * H, "8y"),
    (-2 * S, "<invalid>"), (-2 * S + NS, "0s"), (0, "0s"), (S - MS, "0s"), (2 * M - MS, "119s"),
    (2 * M, "2m"), (2 * M + S, "2m1s"), (10 * M - MS, "9m59s"), (10 * M, "10m"), (10 * M + S, "10m"),
    (3 * H - MS, "179m"), (3 * H, "3h"), (3 * H + M, "3h1m"), (8 * H - MS, "7h59m"), (8 * H, "8h"),
    (8 * H + 59 * M, "8h"), (2 * D - MS, "47h"), (2 * D, "2d"), (2 * D + H, "2d1h"), (8 * D - MS, "7d23h"),
    (8 * D, "8d"), (8 * D + 23 * H, "8d"), (2 * Y - MS, "729d"), (2 * Y, "2y"), (2 * Y + 23 * H, "2y"),
    (2 * Y + 23 * H + 59 * M, "2y"), (2 * Y + D - MS, "2y"), (2 * Y + D, "2y1d"), (3 * Y, "3y"),
    (7 * Y, "7y"), (8 * Y - MS, "7y364d"), (8 * Y, "8y"), (8 * Y + 364 * D, "8y"), (9 * Y, "9y"),
]


@pytest.mark.parametrize(("seconds", "expected"), HUMAN_DURATIONS)
def test_human_duration_matches_kube(seconds: float, expected: str) -> None:
    assert human_duration(seconds) == expected


NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=timezone.utc)


def test_age_is_human_duration_since_creation() -> None:
    assert age("2024-05-01T11:55:55Z", NOW) == "4m5s"
    assert age("2024-04-29T11:00:00Z", NOW) == "2d1h"
    assert age("2024-05-01T14:00:00+02:00", NOW) == "0s"  # offsets are honoured


def test_age_of_a_missing_or_zero_timestamp_is_unknown() -> None:
    assert age(None, NOW) == "<unknown>"
    assert age("", NOW) == "<unknown>"
    assert age("not a time", NOW) == "<unknown>"


def test_age_in_the_future_beyond_skew_is_invalid() -> None:
    assert age((NOW + timedelta(seconds=5)).strftime("%Y-%m-%dT%H:%M:%SZ"), NOW) == "<invalid>"


def test_created_at_is_utc_rfc3339() -> None:
    assert created_at("2024-05-01T14:00:00+02:00") == "2024-05-01T12:00:00Z"
    assert created_at(None) == "0001-01-01T00:00:00Z"


def _cm(name: str, rv: str = "7") -> dict:
    return {"kind": "ConfigMap", "apiVersion": "v1",
            "metadata": {"name": name, "namespace": "default", "resourceVersion": rv,
                         "creationTimestamp": "2024-05-01T11:00:00Z"},
            "data": {"a": "1"}}


def test_table_default_columns_are_name_and_created_at() -> None:
    table = build_table((), [_cm("x")], list_meta={"resourceVersion": "9"})
    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "Created At"]
    assert table["columnDefinitions"][0] == {
        "name": "Name", "type": "string", "format": "name", "priority": 0,
        "description": NAME_COLUMN.description}
    assert table["columnDefinitions"][1]["type"] == "date"
    assert table["rows"][0]["cells"] == ["x", "2024-05-01T11:00:00Z"]
    assert DEFAULT_COLUMNS[1].name == "Created At"


def test_table_shape_with_metadata_objects() -> None:
    columns = (NAME_COLUMN, TableColumn("Data", "string", lambda o: len(o.get("data") or {}), priority=1),
               AGE_COLUMN)
    table = build_table(columns, [_cm("a"), _cm("b")],
                        list_meta={"resourceVersion": "12", "continue": "tok", "remainingItemCount": 3})
    assert list(table) == ["kind", "apiVersion", "metadata", "columnDefinitions", "rows"]
    assert table["kind"] == "Table" and table["apiVersion"] == "meta.k8s.io/v1"
    assert table["metadata"] == {"resourceVersion": "12", "continue": "tok", "remainingItemCount": 3}
    assert table["columnDefinitions"][1] == {"name": "Data", "type": "string", "format": "",
                                             "description": "", "priority": 1}
    row = table["rows"][0]
    assert row["cells"][:2] == ["a", 1]
    assert row["object"] == {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                             "metadata": _cm("a")["metadata"]}


def test_table_empty_list_metadata_fields_are_omitted() -> None:
    table = build_table((NAME_COLUMN,), [], list_meta={"resourceVersion": "", "continue": ""})
    assert table["metadata"] == {} and table["rows"] == []


def test_table_include_object_variants() -> None:
    obj = _cm("a")
    assert build_table((NAME_COLUMN,), [obj], include_object="Object")["rows"][0]["object"] is obj
    assert build_table((NAME_COLUMN,), [obj], include_object="None")["rows"][0]["object"] is None
    assert build_table((NAME_COLUMN,), [obj], include_object="")["rows"][0]["object"]["kind"] == \
        "PartialObjectMetadata"


def test_table_rejects_an_unknown_include_object() -> None:
    with pytest.raises(StatusError) as info:
        build_table((NAME_COLUMN,), [_cm("a")], include_object="Everything")
    assert info.value.code == 400 and info.value.reason == "BadRequest"
    assert info.value.message == ("Unable to convert to Table as requested: includeObject: Invalid value: "
                                  "\"Everything\": must be 'Metadata', 'Object', 'None', or empty")


def test_table_without_headers_has_null_column_definitions() -> None:
    table = build_table((NAME_COLUMN,), [_cm("a")], no_headers=True)
    assert table["columnDefinitions"] is None and table["rows"][0]["cells"] == ["a"]


def test_partial_object_metadata_list() -> None:
    listed = partial_object_metadata_list([_cm("a"), _cm("b")], {"resourceVersion": "5"})
    assert listed["kind"] == "PartialObjectMetadataList" and listed["apiVersion"] == "meta.k8s.io/v1"
    assert listed["metadata"] == {"resourceVersion": "5"}
    assert [i["metadata"]["name"] for i in listed["items"]] == ["a", "b"]
    assert all(i["kind"] == "PartialObjectMetadata" for i in listed["items"])
    assert partial_object_metadata({"kind": "X"}) == {
        "kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": {}}
