"""Periodic compaction of etcd's history (k8s.io/apiserver/pkg/storage/etcd3/compact.go).

etcd keeps every revision until told otherwise. Every ``interval`` the compactor compacts at the
revision it saw one interval earlier, so at least one interval of history stays available for
watches and paginated lists. Several servers on one etcd coordinate as kube-apiservers do,
through a compare-and-swap on the version of the ``compact_rev_key`` key: in each interval only
the server whose swap succeeds compacts, and servers of both kinds can share an etcd.
"""

from __future__ import annotations

import logging

import trio

from kernel.storage.errors import StorageError

from kernel_storage_etcd3.etcdpb import rpc as etcdrpc
from kernel_storage_etcd3.errors import Compacted, FutureRevision
from kernel_storage_etcd3.store import COMPACT, Etcd3Storage

log = logging.getLogger("kernel.storage.etcd3")

COMPACT_REV_KEY = b"compact_rev_key"  # kube's key, outside any --etcd-prefix


class Compactor:
    def __init__(self, storage: Etcd3Storage, interval: float) -> None:
        self.storage = storage
        self.interval = interval
        self.version = 0  # compact_rev_key's version as last seen (kube's compactTime)
        self.revision = 0  # etcd's revision at the last round (compacted at the next one)

    async def run(self) -> None:
        while not self.storage.closed:
            await trio.sleep(self.interval)
            try:
                await self.round()
            except StorageError as error:
                log.warning("etcd compaction skipped: %s", error)
            except Exception:  # a bug here must not take the server down with it
                log.exception("etcd compaction failed")

    async def round(self) -> int | None:
        """One compaction round; the revision compacted at, if this server compacted."""
        storage = self.storage
        response = await storage._txn("", etcdrpc.TxnRequest(
            compare=[etcdrpc.Compare(result=etcdrpc.Compare.EQUAL, target=etcdrpc.Compare.VERSION,
                                     key=COMPACT_REV_KEY, version=self.version)],
            success=[etcdrpc.RequestOp(request_put=etcdrpc.PutRequest(
                key=COMPACT_REV_KEY, value=str(self.revision).encode()))],
            failure=[etcdrpc.RequestOp(request_range=etcdrpc.RangeRequest(key=COMPACT_REV_KEY))]))
        if not response.succeeded:  # another server compacted in this interval: follow its count
            kvs = response.responses[0].response_range.kvs
            if kvs:
                self.version, self.revision = kvs[0].version, response.header.revision
            else:  # the key was removed: start counting again
                self.version = 0
            return None
        previous, self.version = self.revision, self.version + 1
        self.revision = response.header.revision
        if previous == 0:
            return None  # kube does not compact on the first round
        try:
            await storage._rpc("", COMPACT, etcdrpc.CompactionRequest(revision=previous))
        except (Compacted, FutureRevision):
            return None
        log.info("etcd: compacted at revision %d", previous)
        return previous
