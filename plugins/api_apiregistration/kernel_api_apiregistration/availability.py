"""The APIService controllers: local APIServices registered at start, and the ``Available``
condition of every APIService kept current by probing remote backends (kube-aggregator's
autoregister and apiservice-status-available controllers)."""

from __future__ import annotations

import datetime
import logging
from typing import Any

import trio

from kernel.apimachinery.status import StatusError

from kernel_api_apiregistration.backend import Backend, proxy_headers
from kernel_webhook.resolve import ResolveError, resolve

log = logging.getLogger("kernel_api_apiregistration")

PATH = "/apis/apiregistration.k8s.io/v1/apiservices"
AGGREGATED = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
#: Seconds between probes of every APIService (kube: on change and every 30 s; here 1 s, so an
#: edge server notices a backend that went away quickly).
PROBE_INTERVAL = 1.0
PROBE_TIMEOUT = 5.0
AUTOMANAGED = "kube-aggregator.kubernetes.io/automanaged"
#: kube's identity for its own discovery checks.
PROBE_USER, PROBE_GROUPS = "system:kube-aggregator", ["system:masters"]


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def local_apiservice(group: str, version: str) -> dict[str, Any]:
    core = group == ""
    return {"apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService",
            "metadata": {"name": f"{version}.{group}", "labels": {AUTOMANAGED: "onstart"}},
            "spec": {"group": group, "version": version, "groupPriorityMinimum": 18000 if core else 1000,
                     "versionPriority": 1 if core else 15}}


async def served_locally(client: Any) -> set[tuple[str, str]]:
    """The group-versions this server serves, from its discovery (remote ones carry a service)."""
    group_versions = {("", v) for v in (await client.get("/api")).get("versions", [])}
    for entry in (await client.get("/apis")).get("groups", []):
        group_versions |= {(entry["name"], v["version"]) for v in entry.get("versions", [])}
    return group_versions


async def register_local(client: Any, existing: list[dict[str, Any]] | None = None,
                         remote: frozenset[tuple[str, str]] = frozenset()) -> list[str]:
    """kube's autoregistration: an APIService for every group-version served here (``v1.``,
    ``v1.apps``...), created again if deleted; an automanaged one whose group-version is no longer
    served (a group removed at runtime) is deleted. ``remote``: the group-versions proxied now,
    which this server's ``/apis`` lists too. Returns the names of the local ones."""
    wanted = {f"{v}.{g}": (g, v) for g, v in await served_locally(client) - remote}
    if existing is None:
        existing = (await client.list(PATH)).get("items", [])
    have = {obj["metadata"]["name"]: obj for obj in existing}
    for name, (group, version) in wanted.items():
        if name not in have:
            try:
                await client.create(PATH, local_apiservice(group, version))
            except StatusError as error:
                if error.code != 409:
                    raise
    for name, obj in have.items():
        automanaged = (obj["metadata"].get("labels") or {}).get(AUTOMANAGED)
        if name not in wanted and automanaged and not (obj.get("spec") or {}).get("service"):
            try:
                await client.delete(f"{PATH}/{name}")
            except StatusError as error:
                if error.code != 404:
                    raise
    return sorted(wanted)


def _describe(error: BaseException) -> str:
    """httpx often carries the cause (the TLS or socket error) only in the chained exception."""
    while not str(error) and (error.__cause__ or error.__context__) is not None:
        error = error.__cause__ or error.__context__
    return str(error) or type(error).__name__


async def _openapi_entry(backend: Backend, headers: list[tuple[str, str]]) -> dict[str, Any]:
    """The backend's OpenAPI v3 index entry of the group-version (empty if it has none)."""
    import httpx  # imported with the backend's client (see backend.py)

    assert backend.client is not None
    try:
        with trio.fail_after(PROBE_TIMEOUT):
            response = await backend.client.get("/openapi/v3", headers=headers[1:],
                                                extensions=backend.extensions)
        paths = response.json().get("paths", {}) if response.status_code == 200 else {}
    except (httpx.HTTPError, ValueError, trio.TooSlowError):
        return {}
    return paths.get(f"apis/{backend.group}/{backend.version}") or {}


class AvailabilityController:
    """Resolves and probes each remote APIService; the aggregator reads :attr:`backends`."""

    def __init__(self, client: Any, cert_file: str, key_file: str) -> None:
        self.client = client
        self.cert_file, self.key_file = cert_file, key_file
        self.backends: dict[str, Backend] = {}  # remote APIServices by name

    async def run(self) -> None:
        while True:
            await trio.sleep(PROBE_INTERVAL)
            try:
                await self.sync_all()
            except StatusError as error:  # the server itself is busy or shutting down: next round
                log.info("apiservice availability: %s", error)

    async def sync_all(self, *, register: bool = True) -> None:
        """Probe every APIService; with ``register``, first (re)register the local ones."""
        items = (await self.client.list(PATH)).get("items", [])
        if register:
            remote = frozenset((b.group, b.version) for b in self.backends.values())
            await register_local(self.client, items, remote)
        for obj in items:
            await self.sync(obj)
        names = {obj["metadata"]["name"] for obj in items}
        for name in [n for n in self.backends if n not in names]:
            gone = self.backends.pop(name)
            if gone.client is not None:
                await gone.client.aclose()

    async def sync(self, obj: dict[str, Any]) -> None:
        name, spec = obj["metadata"]["name"], obj.get("spec") or {}
        if not spec.get("service"):
            self.backends.pop(name, None)
            await self._set_condition(obj, "True", "Local", "Local APIServices are always available")
            return
        backend = await self._backend(name, spec)
        if backend.client is not None:
            await self._probe(backend)
        self.backends[name] = backend
        if backend.available:
            await self._set_condition(obj, "True", "Passed", "all checks passed")
        else:
            reason = backend.message.partition(":")[0] if backend.client is None else "FailedDiscoveryCheck"
            await self._set_condition(obj, "False", reason, backend.message.partition(": ")[2]
                                      if backend.client is None else backend.message)

    async def _backend(self, name: str, spec: dict[str, Any]) -> Backend:
        try:
            target = await resolve(self.client, spec["service"])
        except ResolveError as error:
            old = self.backends.pop(name, None)
            if old is not None and old.client is not None:
                await old.client.aclose()
            return Backend.unresolved(name, spec, f"{error.reason}: {error}")
        old = self.backends.get(name)
        if old is not None and old.client is not None and old.key == (repr(sorted(spec.items())), target):
            return old
        if old is not None and old.client is not None:
            await old.client.aclose()
        return Backend.build(name, spec, target, self.cert_file, self.key_file)

    async def _probe(self, backend: Backend) -> None:
        """kube's discovery check: the backend's ``/apis`` must list the group-version."""
        import httpx  # imported with the backend's client (see backend.py)

        assert backend.client is not None
        headers = [("Accept", AGGREGATED), *proxy_headers(PROBE_USER, PROBE_GROUPS, {})]
        try:
            with trio.fail_after(PROBE_TIMEOUT):
                response = await backend.client.get("/apis", headers=headers, extensions=backend.extensions)
            if response.status_code != 200:
                raise ValueError(f"bad status from {backend.target.url}/apis: {response.status_code}")
            document = response.json()
        except (httpx.HTTPError, ValueError, trio.TooSlowError) as error:
            backend.available, backend.message = False, (
                f"failing or missing response from {backend.target.url}/apis/{backend.group}/"
                f"{backend.version}: {_describe(error)}")
            return
        for item in document.get("items", []):
            if (item.get("metadata") or {}).get("name") == backend.group:
                for version in item.get("versions", []):
                    if version.get("version") == backend.version:
                        backend.available, backend.message, backend.discovery = True, "", version
                        backend.openapi = await _openapi_entry(backend, headers)
                        return
        backend.available, backend.message = False, (
            f"failing or missing response from {backend.target.url}/apis/{backend.group}/"
            f"{backend.version}: the group-version is not served there")

    async def _set_condition(self, obj: dict[str, Any], value: str, reason: str, message: str) -> None:
        conditions = [c for c in (obj.get("status") or {}).get("conditions") or [] if c.get("type") != "Available"]
        old = next((c for c in (obj.get("status") or {}).get("conditions") or []
                    if c.get("type") == "Available"), None)
        if old is not None and (old.get("status"), old.get("reason"), old.get("message")) == (value, reason, message):
            return
        changed_at = old["lastTransitionTime"] if old is not None and old.get("status") == value else _now()
        conditions.append({"type": "Available", "status": value, "lastTransitionTime": changed_at,
                           "reason": reason, "message": message})
        obj["status"] = {**(obj.get("status") or {}), "conditions": conditions}
        try:
            await self.client.update(f"{PATH}/{obj['metadata']['name']}/status", obj)
        except StatusError as error:
            if error.code not in (404, 409):  # gone, or changed meanwhile: the next round sees it
                raise
