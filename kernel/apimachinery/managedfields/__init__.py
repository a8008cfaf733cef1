"""Server-side apply and ``metadata.managedFields`` (sigs.k8s.io/structured-merge-diff and
k8s.io/apimachinery's managedfields, re-thought in Python).

* :mod:`.fieldpath` - field paths, sets of them, the FieldsV1 encoding;
* :mod:`.schema` - a kind's merge schema from its OpenAPI components;
* :mod:`.typed` - field sets, compare, merge and removal over JSON values;
* :mod:`.merge` - which manager owns which field across updates and applies; conflicts;
* :mod:`.fieldmanager` - managedFields on objects, kube's manager chain around the merge.
"""

from kernel.apimachinery.managedfields.fieldmanager import (
    LAST_APPLIED,
    FieldManager,
    conflict_error,
    decode,
    encode,
    manager_or_user_agent,
)
from kernel.apimachinery.managedfields.fieldpath import Set, path_string
from kernel.apimachinery.managedfields.merge import Conflicts, Manager, Updater
from kernel.apimachinery.managedfields.schema import TypeConverter, TypeRef
from kernel.apimachinery.managedfields.typed import TypedError, compare, field_set, merge, remove_items

__all__ = [
    "LAST_APPLIED", "Conflicts", "FieldManager", "Manager", "Set", "TypeConverter", "TypeRef",
    "TypedError", "Updater", "compare", "conflict_error", "decode", "encode", "field_set",
    "manager_or_user_agent", "merge", "path_string", "remove_items",
]
