"""Fixtures: one real etcd for the test session (each test stores under its own --etcd-prefix,
so every test sees an empty store), and fresh ones for tests that stop or reconfigure etcd."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Iterator

import pytest

from kernel_storage_etcd3 import Etcd3Storage, EtcdConfig
from kernel_storage_etcd3.testing import INSTALLED, MISSING, EtcdProcess, etcd_server

_prefixes = itertools.count()


@pytest.fixture(scope="session")
def etcd() -> Iterator[EtcdProcess]:
    if not INSTALLED:
        pytest.skip(MISSING)
    with etcd_server() as server:
        yield server


@pytest.fixture
def etcd_prefix() -> str:
    return f"/t{next(_prefixes)}"


@pytest.fixture
async def etcd_storage(etcd: EtcdProcess, etcd_prefix: str) -> AsyncIterator[Etcd3Storage]:
    store = Etcd3Storage(EtcdConfig.for_servers(etcd.url, prefix=etcd_prefix))
    yield store
    await store.close()


@pytest.fixture
def own_etcd() -> Iterator[EtcdProcess]:
    """An etcd of the test's own (to stop, restart or fill without disturbing others)."""
    if not INSTALLED:
        pytest.skip(MISSING)
    with etcd_server() as server:
        yield server


@pytest.fixture
def kernels(tmp_path):
    """``kernels(name, *flags)`` starts ``kernel serve --storage-backend=etcd3`` in
    ``tmp_path/name``; every one started is killed after the test."""
    from etcd3_helpers import start_kernel

    started = []

    def start(name: str, *args: str):
        kernel = start_kernel(tmp_path / name, *args)
        started.append(kernel)
        return kernel

    yield start
    for kernel in started:
        if kernel.process.poll() is None:
            kernel.process.kill()
            kernel.process.wait()
