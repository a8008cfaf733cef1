"""The etcd3 backend's own behaviour on a real etcd: the prefix, big lists, progress for the watch
cache, compaction, outages and failover; and the plugin's flags and hooks."""

from __future__ import annotations

import json

import pytest
import trio

from kernel.server.options import OptionSet, parse
from kernel.testing import assemble
from kernel.storage.cacher import open_cacher
from kernel.storage.errors import (
    EXPIRED_WATCH, ResourceExpiredError, StorageError, StorageUnavailableError,
)
from kernel.storage.interface import Storage
from kernel.storage.testing import PREFIX, key, names, rv, take, widget

import kernel_storage_etcd3
from kernel_storage_etcd3 import Compactor, Etcd3Storage, EtcdConfig
from kernel_storage_etcd3.store import answers_progress_truthfully
from kernel_storage_etcd3.testing import free_port


async def test_keys_live_under_the_etcd_prefix(etcd, etcd_storage: Etcd3Storage,
                                               etcd_prefix: str) -> None:
    await etcd_storage.create(key("a"), widget("a"))
    await etcd_storage.create("/registry/gadgets/g", widget("g", ns=""))
    listed = etcd.ctl("get", "--prefix", etcd_prefix + "/", "--keys-only").stdout.split()
    assert listed == [f"{etcd_prefix}/gadgets/g", f"{etcd_prefix}/widgets/default/a"]
    assert etcd.ctl("get", "--prefix", "/registry/widgets/", "--keys-only").stdout == ""
    with pytest.raises(ValueError, match="not under /registry/"):
        await etcd_storage.get("/elsewhere/a")


async def test_undecodable_values_are_storage_errors(etcd, etcd_storage: Etcd3Storage,
                                                     etcd_prefix: str) -> None:
    etcd.ctl("put", f"{etcd_prefix}/widgets/default/bad", "not json")
    with pytest.raises(StorageError, match="cannot be decoded"):
        await etcd_storage.get(key("bad"))


async def test_lists_bigger_than_grpcs_default_4mib(etcd_storage: Etcd3Storage) -> None:
    blob = "x" * (100 * 1024)
    for i in range(50):  # 5 MB in all
        await etcd_storage.create(key(f"big{i:02}"), widget(f"big{i:02}", data={"blob": blob}))
    everything = await etcd_storage.get_list(PREFIX)
    assert len(everything.items) == 50 and everything.items[49]["data"]["blob"] == blob


def test_progress_requests_need_an_etcd_that_answers_them_in_order() -> None:
    # kube's RequestWatchProgress check (etcd-io/etcd#15220, #17507)
    versions = ["3.4.23", "3.4.30", "3.4.31", "3.5.0", "3.5.12", "3.5.13", "3.6.0",
                "3.6.1-rc.0", "4.0.0", "3.5", "", "banana"]
    assert [v for v in versions if answers_progress_truthfully(v)] == [
        "3.4.31", "3.5.13", "3.6.0", "3.6.1-rc.0", "4.0.0"]


async def test_consistent_reads_are_prompt_and_fresh_with_any_etcd(
        etcd, etcd_storage: Etcd3Storage) -> None:
    """Writes elsewhere move etcd's revision without an event for the cache. An etcd that
    answers progress requests in order (3.4.31+ / 3.5.13+) tells the cache it is fresh, and
    consistent reads come from memory; an older one (Debian's 3.4.23) is never asked, and they
    go to etcd. Either way they are prompt (no wait for fresh_timeout) and current, and a watch
    from a revision the cache has no event of starts at once."""
    status = json.loads(etcd.ctl("endpoint", "status", "-w", "json").stdout)
    in_order = answers_progress_truthfully(status[0]["Status"]["version"])
    async with open_cacher(etcd_storage, PREFIX, fresh_timeout=60) as cacher:
        with trio.fail_after(10):  # learnt from etcd's Status as the cache's watch starts
            while in_order and not etcd_storage.watch_progress:
                await trio.sleep(0.01)
        for i in range(3):
            await etcd_storage.create(f"/registry/gadgets/g{i}", widget(f"g{i}"))
            await etcd_storage.create(key(f"w{i}"), widget(f"w{i}"))
            await etcd_storage.create(f"/registry/gadgets/h{i}", widget(f"h{i}"))
            current = await etcd_storage.current_revision()
            with trio.fail_after(10):
                listed = await cacher.get_list(PREFIX)
            assert names(listed.items) == sorted([f"w{j}" for j in range(i + 1)] +
                                                 [f"x{j}" for j in range(i)])
            assert listed.revision == current
            assert (cacher.revision == current) == in_order
            with trio.fail_after(10):
                async with cacher.watch(PREFIX, revision=current) as events:
                    created = await etcd_storage.create(key(f"x{i}"), widget(f"x{i}"))
                    assert (await events.__anext__()).object == created
        assert etcd_storage.watch_progress == in_order
        if in_order:
            async with etcd_storage.watch(PREFIX, revision=0, progress_notify=True) as events:
                await etcd_storage.create("/registry/gadgets/other", widget("other"))
                current = await etcd_storage.current_revision()
                with trio.fail_after(10):
                    event = await events.__anext__()
                assert event.type == "BOOKMARK" and event.revision == current


async def test_compactor_coordinates_servers_through_compact_rev_key(own_etcd) -> None:
    first = Etcd3Storage(EtcdConfig.for_servers(own_etcd.url))
    second = Etcd3Storage(EtcdConfig.for_servers(own_etcd.url))
    a, b = Compactor(first, 300), Compactor(second, 300)
    old = await first.create(key("a"), widget("a"))
    assert await a.round() is None  # kube never compacts on the first round
    assert await b.round() is None and b.version == a.version == 1  # a's turn: b follows
    await first.guaranteed_update(key("a"), lambda o: {**o, "data": {"v": 2}})
    seen_at_first_round = a.revision
    assert await a.round() == seen_at_first_round  # one interval of history kept
    with pytest.raises(ResourceExpiredError):
        await first.get_list(PREFIX, revision=rv(old))
    assert names((await second.get_list(PREFIX, revision=seen_at_first_round)).items) == ["a"]
    # kube's record: the revision compacted at, under a key the servers count versions of
    assert own_etcd.ctl("get", "compact_rev_key", "--print-value-only").stdout.strip() == \
        str(seen_at_first_round)
    await first.close()
    await second.close()


async def test_outage_fails_fast_and_watches_resume_without_gaps(own_etcd) -> None:
    store = Etcd3Storage(EtcdConfig.for_servers(own_etcd.url))
    start = rv(await store.create(key("a"), widget("a")))
    async with store.watch(PREFIX, revision=start) as events:
        own_etcd.stop()
        with trio.fail_after(5):
            for attempt in (store.get(key("a")), store.create(key("b"), widget("b")),
                            store.get_list(PREFIX), store.health()):
                with pytest.raises(StorageUnavailableError, match="unavailable"):
                    await attempt
        own_etcd.start()
        with trio.fail_after(10):
            while True:
                try:
                    await store.health()
                    break
                except StorageUnavailableError:
                    await trio.sleep(0.05)
        written = [await store.create(key(f"n{i}"), widget(f"n{i}")) for i in range(3)]
        got = await take(events, 3, timeout=10)
    assert [e.revision for e in got] == [rv(obj) for obj in written]
    await store.close()


async def test_watch_resuming_after_compaction_ends_with_410(own_etcd) -> None:
    store = Etcd3Storage(EtcdConfig.for_servers(own_etcd.url))
    async with store.watch(PREFIX, revision=0) as events:
        await store.create(key("a"), widget("a"))
        await take(events, 1)
        own_etcd.stop()  # nobody reads the watch while etcd is away
        own_etcd.start()
        own_etcd.ctl("put", "/registry/widgets/default/b", "{}")
        own_etcd.ctl("put", "/registry/widgets/default/c", "{}")
        revision = await store.current_revision()
        own_etcd.ctl("compact", str(revision))
        with pytest.raises(ResourceExpiredError) as info:
            with trio.fail_after(10):
                await events.__anext__()
        assert info.value.message == EXPIRED_WATCH
    await store.close()


async def test_failover_to_the_next_endpoint(etcd, etcd_prefix: str) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    store = Etcd3Storage(EtcdConfig.for_servers(dead, etcd.url, prefix=etcd_prefix))
    assert await store.get_list(PREFIX) is not None  # reads retry on the other endpoint
    assert store.endpoint == etcd.url.removeprefix("http://")
    created = await store.create(key("a"), widget("a"))
    assert await store.get(key("a")) == created
    await store.close()


async def test_closed_store_is_unavailable(etcd_storage: Etcd3Storage) -> None:
    await etcd_storage.close()
    with pytest.raises(StorageUnavailableError, match="closed"):
        await etcd_storage.get(key("a"))


def _options(*argv: str):
    option_set = OptionSet()
    kernel_storage_etcd3.kernel_add_options(option_set.for_plugin("storage_etcd3"))
    option_set.add("storage-backend", default="memory", help="")
    return parse(option_set, list(argv)).options


def test_flags_defaults_and_validation(tmp_path) -> None:
    options = _options("--storage-backend=etcd3", "--etcd-servers=http://10.0.0.1:2379,10.0.0.2")
    assert kernel_storage_etcd3.kernel_validate_options(options) == []
    config = kernel_storage_etcd3.config_from(options)
    assert [str(s) for s in config.servers] == ["http://10.0.0.1:2379", "http://10.0.0.2:2379"]
    assert (config.prefix, config.compaction_interval, config.healthcheck_timeout,
            config.readycheck_timeout) == ("/registry", 300.0, 2.0, 2.0)
    assert kernel_storage_etcd3.kernel_validate_options(_options()) == []  # not in use
    bad = _options("--storage-backend=etcd3", "--etcd-certfile=/nonexistent/c.crt",
                   "--etcd-healthcheck-timeout=0")
    assert kernel_storage_etcd3.kernel_validate_options(bad) == [
        "--etcd-servers: must be specified when --storage-backend=etcd3",
        "--etcd-certfile and --etcd-keyfile: give both or neither",
        "--etcd-certfile: No such file or directory: /nonexistent/c.crt",
        "--etcd-healthcheck-timeout: must be greater than 0"]
    ca = tmp_path / "ca.crt"
    ca.write_text("")
    mixed = _options("--storage-backend=etcd3", "--etcd-servers=ftp://x,http://y:1",
                     f"--etcd-cafile={ca}", "--etcd-compaction-interval=10m")
    assert mixed.etcd_compaction_interval == 600.0
    assert kernel_storage_etcd3.kernel_validate_options(mixed) == [
        "--etcd-servers: ftp://x: the scheme must be http or https",
        "--etcd-servers: use https:// endpoints with --etcd-cafile/--etcd-certfile (the TLS "
        "files are ignored over plain http)"]


async def test_plugin_hooks(etcd, tmp_path) -> None:
    server = assemble(tmp_path, "--plugins=api_core,storage_etcd3", "--storage-backend=etcd3",
                     f"--etcd-servers={etcd.url}", "--etcd-readycheck-timeout=3s")
    context = server.context
    storage = context.component("storage_backends", "etcd3")
    assert isinstance(storage, Storage)
    checks = kernel_storage_etcd3.kernel_health_checks(context)
    assert [(c.name, c.healthz, c.livez, c.readyz) for c in checks] == [
        ("etcd", True, True, False), ("etcd", False, False, True)]
    for check in checks:
        await check.check()
    async with trio.open_nursery() as nursery:
        server.background = nursery  # as run() does once serving
        hooks = kernel_storage_etcd3.kernel_post_start_hooks(context)
        assert list(hooks) == ["start-etcd-compactor"]
        await hooks["start-etcd-compactor"](context)
        nursery.cancel_scope.cancel()
    await storage.close()
    with pytest.raises(Exception, match="error getting data from etcd"):
        await checks[1].check()
    # Another backend serves: no etcd check, no compactor.
    other = assemble(tmp_path, "--plugins=api_core,storage_etcd3,storage_memory",
                    "--storage-backend=memory").context
    assert other.component("storage_backends", "etcd3") is None
    assert kernel_storage_etcd3.kernel_health_checks(other) == []
    assert kernel_storage_etcd3.kernel_post_start_hooks(other) == {}
