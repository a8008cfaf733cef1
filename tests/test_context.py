"""ServerContext (kernel/context.py): what it offers plugins, and that it stays read-only."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import trio

from kernel.registry.store import Store
from kernel.context import API, ServerContext
from kernel.server.genericapiserver import APIServer, run
from kernel.testing import assemble

MEMORY = ("--plugins=api_core,storage_memory,authn_token", "--storage-backend=memory")


@pytest.fixture
def server(tmp_path: Path) -> APIServer:
    return assemble(tmp_path, *MEMORY)


def test_the_api_is_exactly_what_hookspecs_documents():
    from kernel import hookspecs

    assert API == {"options", "store", "resources", "spawn", "signals", "logger", "metrics",
                   "authenticate", "authorize", "component", "tls", "informer", "loopback_client",
                   "secure_port", "rules_for", "authorizer_config", "install_api_group",
                   "remove_api_group"}
    for name in API:
        assert f"``{name}" in hookspecs.__doc__, name
        assert (getattr(ServerContext, name).__doc__ or "").strip(), name


def test_options_are_read_only(server: APIServer):
    options = server.context.options
    assert options.storage_backend == "memory" and options.secure_port == 0
    with pytest.raises(AttributeError, match="read-only"):
        options.secure_port = 1
    with pytest.raises(AttributeError, match="read-only"):
        del options.secure_port
    with pytest.raises(AttributeError):
        server.context.options = None  # type: ignore[misc]
    assert server.options.secure_port == 0


def test_store_and_resources(server: APIServer):
    context = server.context
    namespaces = context.store("", "namespaces")
    assert isinstance(namespaces, Store) and namespaces.spec.plural == "namespaces"
    assert ("", "configmaps") in context.resources()
    with pytest.raises(KeyError, match="no registry for resource 'widgets' of group 'example.com'"):
        context.store("example.com", "widgets")


def test_component_gives_back_what_was_built(server: APIServer):
    context = server.context
    assert context.component("storage_backends", "memory") is server.storage
    assert context.component("api_groups", "v1").prefix == "/api/v1"
    assert context.component("authenticators", "loopback") is not None
    assert context.component("authenticators", "token-file") is None  # no --token-auth-file
    assert context.component("authorizers", "AlwaysDeny") is None  # not in --authorization-mode
    assert context.component("admission_plugins", "NamespaceLifecycle") is not None
    with pytest.raises(KeyError, match="no selected plugin provides authenticators component 'oidc'"):
        context.component("authenticators", "oidc")  # authn_oidc is installed, not selected
    with pytest.raises(ValueError, match="component kind must be one of"):
        context.component("authenticator", "loopback")  # type: ignore[arg-type]


def test_component_before_it_is_built(server: APIServer):
    fresh = APIServer(server.options, server.plugins).context
    with pytest.raises(RuntimeError, match="authenticators are not built yet"):
        fresh.component("authenticators", "loopback")


def test_signals_are_for_waiting_only(server: APIServer):
    signals = server.context.signals
    assert [s.name for s in signals] == [
        "ShutdownInitiated", "AfterShutdownDelayDuration", "NotAcceptingNewRequest",
        "HTTPServerStoppedListening", "InFlightRequestsDrained", "HasBeenReady"]
    assert not hasattr(signals.shutdown_initiated, "set")
    with pytest.raises(AttributeError, match="read-only"):
        signals.has_been_ready = None  # type: ignore[misc]
    assert not signals.shutdown_initiated.is_set()
    server.shutdown()
    assert signals.shutdown_initiated.is_set()


def test_informer_of_an_unserved_resource_is_a_key_error(server: APIServer):
    with pytest.raises(KeyError):
        server.context.informer("example.com", "widgets")


async def test_informer_is_shared_and_sees_writes_made_through_the_api(start_api):
    api = await start_api("--plugins=api_core,storage_memory")
    context = api.server.context
    informer = context.informer("", "configmaps")
    assert context.informer("", "configmaps") is informer  # one per resource, for every plugin
    seen: list[tuple[str, str]] = []
    informer.add_event_handler(on_add=lambda obj: seen.append(("add", obj["metadata"]["name"])),
                               on_delete=lambda obj: seen.append(("delete", obj["metadata"]["name"])))
    with trio.fail_after(20):
        await informer.wait_synced()
        await api.configmap("default", "one")
        await api.client.delete("/api/v1/namespaces/default/configmaps/one")
        while seen[-2:] != [("add", "one"), ("delete", "one")]:
            await trio.sleep(0.01)
    assert informer.get("one", "default") is None
    namespaces = context.informer("", "namespaces")  # asked for while serving: starts at once
    with trio.fail_after(20):
        await namespaces.wait_synced()
    assert {o["metadata"]["name"] for o in namespaces.list()} >= {"default", "kube-system"}


def test_spawn_is_refused_before_serving(server: APIServer):
    async def task() -> None:
        pass

    with pytest.raises(RuntimeError, match="the server is not serving yet"):
        server.context.spawn("early", task)


async def test_authenticate_and_authorize_run_the_chains(server: APIServer):
    from kernel.authorization import Attributes, Decision
    from kernel.authentication.user import UserInfo

    assert server.context.logger("kernel_x").name == "kernel_x"
    assert server.context.metrics is server.metrics
    user = UserInfo("jane", "", ("system:masters",))
    decision, _ = await server.context.authorize(Attributes(user, "get", resource_request=False, path="/x"))
    assert decision is Decision.ALLOW


async def test_spawn_runs_in_the_server_and_a_failure_stops_it(
        tmp_path: Path, caplog: pytest.LogCaptureFixture):
    server = assemble(tmp_path, *MEMORY)
    ran = trio.Event()

    async def worker(value: int) -> None:
        assert value == 7
        ran.set()
        await trio.sleep_forever()  # cancelled at shutdown

    async def boom() -> None:
        raise ValueError("boom")

    caplog.set_level(logging.ERROR, logger="kernel")
    with pytest.RaisesGroup(pytest.RaisesExc(ValueError, match="boom"), flatten_subgroups=True):
        async with trio.open_nursery() as nursery:
            await nursery.start(lambda task_status: run(server, handle_signals=False,
                                                        task_status=task_status))
            server.context.spawn("worker", worker, 7)
            await ran.wait()
            server.context.spawn("boom-task", boom)
    assert any(r.getMessage() == "background task boom-task failed" for r in caplog.records)


async def test_secure_port_is_the_bound_one(start_api):
    api = await start_api()
    port = api.server.context.secure_port
    assert api.server.options.secure_port == 0 and port > 0
    assert api.server.url.endswith(f":{port}")
