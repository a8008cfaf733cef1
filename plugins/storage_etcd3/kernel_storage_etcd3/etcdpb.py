"""etcd's protobuf messages, without the python-etcd3 client.

The messages are the modules python-etcd3 (``etcd-sdk-python``) generated from etcd's
``rpc.proto``, ``kv.proto`` and ``auth.proto``. Its package ``__init__`` imports its gRPC client
and with it grpcio (about 100 ms and 20 MB here), which the backend does not use
(:mod:`kernel_storage_etcd3.transport` makes the calls), so the generated modules are imported
with stand-ins for the two packages above them; the stand-ins leave ``sys.modules`` afterwards
(a later ``import pyetcd`` finds the same generated modules and imports the real packages).
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
import types


def _import_generated() -> types.ModuleType:
    spec = importlib.util.find_spec("pyetcd")  # found, not imported
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("etcd's protobuf messages come from etcd-sdk-python, not installed")
    root = spec.submodule_search_locations[0]
    stand_ins = {}
    for name, path in (("pyetcd", root), ("pyetcd.etcdrpc", os.path.join(root, "etcdrpc"))):
        if name not in sys.modules:
            stand_ins[name] = sys.modules[name] = types.ModuleType(name)
            stand_ins[name].__path__ = [path]
    try:
        return importlib.import_module("pyetcd.etcdrpc.rpc_pb2")
    finally:
        for name, module in stand_ins.items():
            if sys.modules.get(name) is module:
                del sys.modules[name]


rpc = _import_generated()  # RangeRequest, TxnRequest, WatchRequest, ... (etcdserverpb)
kv = rpc.kv__pb2  # KeyValue, Event (mvccpb)
