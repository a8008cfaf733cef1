"""Schemas of k8s.io/apimachinery meta/v1 messages (numbers from its generated.proto)."""

from __future__ import annotations

from .schema import (Message, boolean, int64, map_of, message, raw_json, string, time)

OWNER_REFERENCE = Message("OwnerReference", {
    5: string("apiVersion"), 1: string("kind"), 3: string("name"), 4: string("uid"),
    6: boolean("controller", keep_zero=True), 7: boolean("blockOwnerDeletion", keep_zero=True),
})

MANAGED_FIELDS_ENTRY = Message("ManagedFieldsEntry", {
    1: string("manager"), 2: string("operation"), 3: string("apiVersion"), 4: time("time"),
    6: string("fieldsType"), 7: raw_json("fieldsV1"), 8: string("subresource"),
})

OBJECT_META = Message("ObjectMeta", {
    1: string("name"), 2: string("generateName"), 3: string("namespace"), 4: string("selfLink"),
    5: string("uid"), 6: string("resourceVersion"), 7: int64("generation"),
    8: time("creationTimestamp"), 9: time("deletionTimestamp"),
    10: int64("deletionGracePeriodSeconds", keep_zero=True),
    11: map_of("labels"), 12: map_of("annotations"),
    13: message("ownerReferences", OWNER_REFERENCE, repeated=True),
    14: string("finalizers", repeated=True),
    17: message("managedFields", MANAGED_FIELDS_ENTRY, repeated=True),
})

LABEL_SELECTOR_REQUIREMENT = Message("LabelSelectorRequirement", {
    1: string("key"), 2: string("operator"), 3: string("values", repeated=True),
})

LABEL_SELECTOR = Message("LabelSelector", {
    1: map_of("matchLabels"),
    2: message("matchExpressions", LABEL_SELECTOR_REQUIREMENT, repeated=True),
})
