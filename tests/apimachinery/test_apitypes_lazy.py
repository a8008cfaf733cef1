"""Generated API types decoded a piece at a time (kernel/apimachinery/apitypes.py).

Registration reads only the kind table; a component is decoded on its first lookup, the
protobuf tables on a message's first build, and every piece equals what the whole file says.
"""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
import tracemalloc
from pathlib import Path

from kernel.apimachinery.apitypes import GeneratedTypes

ROOT = Path(__file__).resolve().parents[2]
CORE = ROOT / "plugins/api_core/kernel_api_core/generated/v1.json"
APPS = ROOT / "plugins/api_apps/kernel_api_apps/generated/v1.json"


def test_registration_reads_only_the_kind_table() -> None:
    types = GeneratedTypes(CORE)
    fields = types.spec_fields("ConfigMap")
    whole = json.loads(CORE.read_text())
    assert fields["schema_name"] == "io.k8s.api.core.v1.ConfigMap"
    assert types.description("ConfigMap") == whole["schemas"]["io.k8s.api.core.v1.ConfigMap"]["description"]
    assert types.kinds() == whole["kinds"]
    assert fields["protobuf"] is types.message("ConfigMap")
    assert "_split" not in vars(types)  # no component, no field table indexed yet


def test_a_lookup_decodes_only_that_component() -> None:
    types = GeneratedTypes(CORE)
    whole = json.loads(CORE.read_text())["schemas"]
    schemas = types.spec_fields("Pod")["schemas"]
    assert "io.k8s.api.core.v1.PodSpec" in schemas and "io.k8s.api.core.v1.Nope" not in schemas
    assert len(schemas) == len(whole) and list(schemas) == list(whole)  # names, file order
    assert schemas._decoded == {}  # membership, order and size decode nothing
    pod = schemas["io.k8s.api.core.v1.Pod"]
    assert pod == whole["io.k8s.api.core.v1.Pod"]
    assert list(schemas._decoded) == ["io.k8s.api.core.v1.Pod"]
    assert schemas["io.k8s.api.core.v1.Pod"] is pod  # kept: the same dict every time
    assert schemas.get("io.k8s.api.core.v1.Nope") is None


def test_every_component_and_message_equals_the_file() -> None:
    for path in (CORE, APPS):
        whole = json.loads(path.read_text())
        types = GeneratedTypes(path)
        assert dict(types.schemas) == whole["schemas"]
        for kind, names in whole["kinds"].items():
            assert types.description(kind) == whole["schemas"][names["schema"]].get("description", "")
        for name, rows in whole["messages"].items():
            fields = types._message(name).resolved()
            assert [(number, field.name) for number, field in fields.items()] == [
                (number, json_name) for number, json_name, *_ in rows]
            nested = [field.message for field in fields.values() if field.message is not None]
            assert [m.name for m in nested] == [
                target.rsplit(".", 1)[1] for *_, kind, _, target in rows
                if target and (kind == "message" or kind.startswith("map:"))]


def test_after_indexing_the_file_text_is_not_held() -> None:
    """Knowing every component's name (and where it lies) costs a fraction of the file."""
    types = GeneratedTypes(CORE)
    types.kinds()
    gc.collect()
    tracemalloc.start()
    try:
        assert len(types.schemas) > 200
        gc.collect()
        held = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert held < CORE.stat().st_size / 4, (held, CORE.stat().st_size)


def test_a_regenerated_file_is_indexed_again(tmp_path: Path) -> None:
    path = tmp_path / "v1.json"
    path.write_bytes(CORE.read_bytes())
    types = GeneratedTypes(path)
    whole = json.loads(CORE.read_text())
    assert "io.k8s.api.core.v1.Pod" in types.schemas  # indexed
    # the file rewritten with other spacing (every piece moves), as a new release might be
    moved = json.dumps(whole, indent=2).encode()
    path.write_bytes(moved)
    os.utime(path, ns=(1, 1))
    assert types.schemas["io.k8s.api.core.v1.Pod"] == whole["schemas"]["io.k8s.api.core.v1.Pod"]
    fields = types.message("Pod").resolved()
    assert [(n, f.name) for n, f in fields.items()] == [
        (row[0], row[1]) for row in whole["messages"]["k8s.io.api.core.v1.Pod"]]


def test_importing_the_core_group_decodes_no_component() -> None:
    """Every ResourceSpec of api_core and api_rbac built (as a server's registration does),
    scale and custom subresources merged in, and the generated components still undecoded."""
    code = """
import kernel_api_core.plugin, kernel_api_rbac.plugin
from kernel_api_core.pods import pod_spec
from kernel_api_core.types import CORE_V1
from kernel_api_rbac.types import TYPES as RBAC_V1
assert "_split" not in vars(CORE_V1) and "_split" not in vars(RBAC_V1), "split at import"
assert "io.k8s.api.core.v1.Binding" in pod_spec.schemas  # a custom subresource's component
assert "_split" in vars(CORE_V1) and CORE_V1.schemas._decoded == {}
print("ok")
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr
