"""The CRD controllers in one reconcile loop over the shared CRD informer: naming (acceptedNames,
NamesAccepted), serving (the API group-versions of accepted CRDs installed, replaced and removed
through ``context.install_api_group`` / ``remove_api_group``), establishing (Established once
served) and finalizing (a deleted CRD's custom resources deleted, then its finalizer dropped).

Status and finalizer writes go through the loopback client, so they are admitted and validated
as any client's; a conflict just waits for the informer's next event.
"""

from __future__ import annotations

import copy
import json
import logging
from collections.abc import Iterable
from typing import Any

import trio

from kernel.apimachinery.status import StatusError
from kernel.endpoints.apigroup import APIGroup

from kernel_api_apiextensions.customresource import served_specs
from kernel_webhook import service_resolver
from kernel_api_apiextensions.customresourcedefinitions import (CLEANUP_FINALIZER, GROUP, VERSION,
                                                                condition, set_condition)

log = logging.getLogger("kernel.apiextensions")

Object = dict[str, Any]
CRDS = f"/apis/{GROUP}/{VERSION}/customresourcedefinitions"
RETRY = 0.2  # seconds before a failed pass is tried again


def _in_use(crds: Iterable[Object], group: str, skip: str) -> tuple[set[str], set[str]]:
    """Resource and kind names other CRDs of ``group`` already hold (their acceptedNames)."""
    resources: set[str] = set()
    kinds: set[str] = set()
    for crd in crds:
        if crd["metadata"]["name"] == skip or crd["spec"].get("group") != group:
            continue
        accepted = (crd.get("status") or {}).get("acceptedNames") or {}
        resources.update(n for n in (accepted.get("plural"), accepted.get("singular"),
                                     *(accepted.get("shortNames") or ())) if n)
        kinds.update(n for n in (accepted.get("kind"), accepted.get("listKind")) if n)
    return resources, kinds


def _fresh(requested: str | None, accepted: str | None, used: set[str]) -> str | None:
    """None if ``requested`` may be taken, else kube's conflict message."""
    if requested == accepted or requested not in used:
        return None
    return f'"{requested}" is already in use'


def calculate_names(crd: Object, others: Iterable[Object]) -> tuple[Object, Object]:
    """(acceptedNames, NamesAccepted condition), as kube's NamingConditionController finds them."""
    requested = crd["spec"].get("names") or {}
    accepted = (crd.get("status") or {}).get("acceptedNames") or {}
    resources, kinds = _in_use(others, crd["spec"].get("group"), crd["metadata"]["name"])
    names = dict(accepted)
    cond: Object = {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts",
                    "message": "no conflicts found"}
    checks = (("plural", resources, "PluralConflict"), ("singular", resources, "SingularConflict"),
              ("kind", kinds, "KindConflict"), ("listKind", kinds, "ListKindConflict"))
    for key, used, reason in checks:
        problem = _fresh(requested.get(key), accepted.get(key), used)
        if problem:
            cond = {"type": "NamesAccepted", "status": "False", "reason": reason, "message": problem}
        elif requested.get(key):
            names[key] = requested[key]
    shorts = [s for s in requested.get("shortNames") or ()
              if s not in (accepted.get("shortNames") or ()) and s in resources]
    if shorts:
        cond = {"type": "NamesAccepted", "status": "False", "reason": "ShortNamesConflict",
                "message": ", ".join(f'"{s}" is already in use' for s in shorts)}
    else:
        names["shortNames"] = list(requested.get("shortNames") or ())
    names["categories"] = list(requested.get("categories") or ())
    names = {k: v for k, v in names.items() if v not in (None, [], "")}
    names.setdefault("plural", "")
    names.setdefault("kind", "")
    return names, cond


def _served(crd: Object) -> bool:
    return condition(crd, "NamesAccepted") is not None and \
        condition(crd, "NamesAccepted").get("status") == "True" and \
        bool(((crd.get("status") or {}).get("acceptedNames") or {}).get("plural"))


class CRDController:
    def __init__(self, context: Any) -> None:
        self.context = context
        self.client = context.loopback_client("apiextensions-controller")
        self.resolver = service_resolver(self.client)  # conversion webhooks' services
        self.informer = context.informer(GROUP, "customresourcedefinitions")
        self.installed: dict[tuple[str, str], str] = {}  # (group, version) → fingerprint
        self.synced = trio.Event()  # the first pass is done: the CRDs stored at start are served
        self._wake = trio.Event()
        self.informer.add_event_handler(on_add=self._changed, on_update=self._changed,
                                        on_delete=self._changed)

    def _changed(self, *_: Object) -> None:
        self._wake.set()

    async def run(self) -> None:
        await self.informer.wait_synced()
        self._wake.set()
        while True:
            await self._wake.wait()
            self._wake = trio.Event()
            try:
                await self.reconcile()
            except StatusError as error:  # a conflict or a racing delete: the next event retries
                log.info("CRD controller: %s; retrying", error.message)
                await trio.sleep(RETRY)
                self._wake.set()
            except Exception:  # a bug must not stop the server: the next CRD change retries
                log.exception("CRD controller: reconcile failed")
            self.synced.set()

    async def reconcile(self) -> None:
        crds = [copy.deepcopy(c) for c in self.informer.list()]
        for crd in crds:
            if not crd["metadata"].get("deletionTimestamp"):
                await self._name(crd, crds)
        await self._serve([c for c in crds if _served(c)])
        for crd in crds:
            if crd["metadata"].get("deletionTimestamp"):
                await self._finalize(crd)
            elif _served(crd) and (condition(crd, "Established") or {}).get("status") != "True":
                set_condition(crd, {"type": "Established", "status": "True",
                                    "reason": "InitialNamesAccepted",
                                    "message": "the initial names have been accepted"})
                await self._write_status(crd)

    async def _name(self, crd: Object, crds: list[Object]) -> None:
        names, cond = calculate_names(crd, crds)
        before = copy.deepcopy(crd.get("status") or {})
        status = crd.setdefault("status", {})
        status["acceptedNames"] = names
        set_condition(crd, cond)
        if cond["status"] != "True" and condition(crd, "Established") is None:
            set_condition(crd, {"type": "Established", "status": "False", "reason": "NotAccepted",
                                "message": "not all names are accepted"})
        elif cond["status"] == "True" and (condition(crd, "Established") or {}).get("status") != "True":
            set_condition(crd, {"type": "Established", "status": "False", "reason": "Installing",
                                "message": "the initial names have been accepted"})
        if crd["status"] != before:
            await self._write_status(crd)

    async def _write_status(self, crd: Object) -> None:
        written = await self.client.update(f"{CRDS}/{crd['metadata']['name']}/status", crd)
        crd["metadata"] = written["metadata"]
        crd["status"] = written.get("status") or {}

    async def _serve(self, crds: list[Object]) -> None:
        """Install each group-version accepted CRDs serve; remove the ones none serves now."""
        wanted: dict[tuple[str, str], list[Object]] = {}
        for crd in sorted(crds, key=lambda c: c["metadata"]["name"]):
            for version in crd["spec"]["versions"]:
                if version.get("served"):
                    wanted.setdefault((crd["spec"]["group"], version["name"]), []).append(crd)
        changed: list[APIGroup] = []
        fingerprints: dict[tuple[str, str], str] = {}
        compiled: dict[str, list[Any]] = {}  # each CRD's versions compiled once per pass
        prints: dict[str, str] = {}  # each CRD serialised once per pass, not once per version
        for (group, version), members in wanted.items():
            fingerprint = "\n".join(self._fingerprint(c, prints) for c in members)
            if self.installed.get((group, version)) == fingerprint:
                continue
            specs = []
            for crd in members:
                specs += [s for s in self._specs(crd, compiled, self.resolver)
                          if s.version == version]
            changed.append(APIGroup(group, version, specs))
            fingerprints[(group, version)] = fingerprint
        if changed:  # all at once: discovery and OpenAPI are rebuilt once, not once per version
            await self.context.install_api_group(*changed)
            self.installed.update(fingerprints)
        gone: dict[str, list[str]] = {}
        for group, version in [k for k in self.installed if k not in wanted]:
            gone.setdefault(group, []).append(version)
            del self.installed[(group, version)]
        for group, versions in gone.items():
            await self.context.remove_api_group(group, *versions)

    @staticmethod
    def _fingerprint(crd: Object, prints: dict[str, str]) -> str:
        """What decides how ``crd`` is served: a changed one is installed again."""
        name = crd["metadata"]["name"]
        if name not in prints:
            prints[name] = json.dumps([crd["spec"], crd["status"]["acceptedNames"],
                                       bool(crd["metadata"].get("deletionTimestamp"))], sort_keys=True)
        return prints[name]

    @staticmethod
    def _specs(crd: Object, compiled: dict[str, list[Any]], resolver: Any = None) -> list[Any]:
        """The ResourceSpecs of every served version of ``crd``, compiled once per pass (a CRD
        with hundreds of versions is not compiled once per version)."""
        name = crd["metadata"]["name"]
        if name not in compiled:
            try:
                compiled[name] = served_specs(crd, resolver)
            except Exception:  # e.g. a pattern Python's re cannot compile: serve the other CRDs
                log.exception("CRD %s cannot be served", name)
                compiled[name] = []
        return compiled[name]

    async def _finalize(self, crd: Object) -> None:
        """Delete every custom resource of a deleted CRD, then let the CRD go."""
        finalizers = crd["metadata"].get("finalizers") or []
        if CLEANUP_FINALIZER not in finalizers:
            return
        accepted = (crd.get("status") or {}).get("acceptedNames") or {}
        version = next((v["name"] for v in crd["spec"]["versions"] if v.get("served")), None)
        if version and accepted.get("plural") and (crd["spec"]["group"], version) in self.installed:
            await self._delete_instances(crd, version, accepted["plural"])
        crd["metadata"]["finalizers"] = [f for f in finalizers if f != CLEANUP_FINALIZER]
        await self.client.update(f"{CRDS}/{crd['metadata']['name']}", crd)

    async def _delete_instances(self, crd: Object, version: str, plural: str) -> None:
        base = f"/apis/{crd['spec']['group']}/{version}"
        listed = await self.client.list(f"{base}/{plural}")
        for item in listed.get("items") or ():
            meta = item["metadata"]
            where = f"{base}/namespaces/{meta['namespace']}/{plural}" if meta.get("namespace") \
                else f"{base}/{plural}"
            try:
                await self.client.delete(f"{where}/{meta['name']}")
            except StatusError as error:
                if error.code != 404:
                    raise
        remaining = await self.client.list(f"{base}/{plural}")
        if remaining.get("items"):  # finalizers of its own keep some: try again later
            raise StatusError(409, "Conflict", f"{len(remaining['items'])} custom resources of "
                              f"{crd['metadata']['name']} remain")
