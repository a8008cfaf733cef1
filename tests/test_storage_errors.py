"""Storage errors as the generic registry answers them: an unreachable backend is 503, one that
does not answer in time 504, each a Status with kube's reason."""

from __future__ import annotations

import pytest

from kernel.apimachinery import status
from kernel.registry.store import Store
from kernel.registry.resource import ResourceSpec
from kernel.storage.errors import (
    StorageError, StorageTimeoutError, StorageUnavailableError,
)

SPEC = ResourceSpec(group="", version="v1", kind="Widget", plural="widgets", singular="widget",
                    namespaced=True, schema_name="Widget", schemas={})


class Failing:
    def __init__(self, error: StorageError) -> None:
        self.error = error

    async def get(self, key: str) -> dict:
        raise self.error


@pytest.mark.parametrize(("error", "code", "reason", "message"), [
    (StorageUnavailableError("k", "etcd down"), 503, "ServiceUnavailable",
     "storage is unavailable: etcd down"),
    (StorageTimeoutError("k", "etcd slow"), 504, "Timeout",
     "Timeout: storage did not answer in time: etcd slow"),
])
async def test_unavailable_and_timeout(error, code, reason, message) -> None:
    store = Store(SPEC, Failing(error))  # type: ignore[arg-type]
    with pytest.raises(status.StatusError) as info:
        await store.get("default", "w")
    assert (info.value.code, info.value.reason, info.value.message) == (code, reason, message)


def test_timeout_is_a_kind_of_unavailability() -> None:
    error = StorageTimeoutError("k", "slow")
    assert isinstance(error, StorageUnavailableError) and error.code == 6
    assert str(error) == ("StorageError: request timeout, Code: 6, Key: k, ResourceVersion: 0, "
                          "AdditionalErrorMsg: slow")
