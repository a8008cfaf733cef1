"""pods/eviction: what it asks of PodDisruptionBudgets (kube's EvictionREST.Create, which lives
with the pods in kube's core registry too).

The handler (:func:`create_eviction`) reads the pod and the PDBs of its namespace (none when
policy/v1 is not served), then:

    verdict = allows_eviction(pdbs, pod)       # True, or EvictionRefused (its .error() to answer)
    pdb = budget_to_charge(pdbs, pod)          # the PDB whose budget the eviction uses, or None
    if pdb: PUT .../poddisruptionbudgets/<name>/status with charge(pdb, pod_name) (409: retry)

and deletes the pod. All but the handler are plain functions over JSON objects.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, Literal

import msgspec

from kernel.apimachinery import status
from kernel.apimachinery.selectors import SelectorError, label_selector_from_dict
from kernel.registry.store import ListOptions
from kernel.registry.subresources import SubresourceCall

Object = dict[str, Any]
DISRUPTION_BUDGET_CAUSE = "DisruptionBudget"
TOO_MANY = "Cannot evict pod as it would violate the pod's disruption budget."
#: kube's MaxDisruptedPodSize: evictions the PDB controller has not confirmed yet
MAX_DISRUPTED_POD_SIZE = 2000


class EvictionRefused(msgspec.Struct, frozen=True):
    """Why the eviction may not proceed, as the Status kube answers with."""

    code: int  # 429 (retry), 403 or 500
    message: str
    cause: str = ""  # a DisruptionBudget cause's message
    retry_after: int = 0
    pdb: str = ""

    def error(self) -> status.StatusError:
        if self.code == 429:
            details: dict[str, Any] = {"causes": [{"reason": DISRUPTION_BUDGET_CAUSE, "message": self.cause}]}
            headers = []
            if self.retry_after:
                details["retryAfterSeconds"] = self.retry_after
                headers = [(b"retry-after", str(self.retry_after).encode())]
            return status.StatusError(429, "TooManyRequests", self.message, details, headers=headers)
        if self.code == 403:
            return status.StatusError(403, "Forbidden", self.message,
                                      {"name": self.pdb, "group": "policy", "kind": "poddisruptionbudget"})
        return status.StatusError(self.code, "", self.message)


def matching(pdbs: Iterable[Object], pod: Object) -> list[Object]:
    """The PDBs of the pod's namespace whose selector matches its labels (an invalid selector
    matches nothing; an empty one, in policy/v1, everything)."""
    meta = pod.get("metadata") or {}
    found = []
    for pdb in pdbs:
        if (pdb.get("metadata") or {}).get("namespace") != meta.get("namespace"):
            continue
        try:
            selector = label_selector_from_dict((pdb.get("spec") or {}).get("selector"))
        except SelectorError:
            continue
        if selector.matches(meta.get("labels") or {}):
            found.append(pdb)
    return found


def _can_ignore_pdbs(pod: Object) -> bool:
    phase = (pod.get("status") or {}).get("phase")
    return phase in ("Succeeded", "Failed", "Pending") or bool((pod.get("metadata") or {}).get("deletionTimestamp"))


def _ready(pod: Object) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (pod.get("status") or {}).get("conditions") or [])


def _unhealthy_may_go(pdb: Object, pod: Object) -> bool:
    """An unready pod is deleted without using the budget when the policy or the budget allows."""
    if _ready(pod):
        return False
    if (pdb.get("spec") or {}).get("unhealthyPodEvictionPolicy") == "AlwaysAllow":
        return True
    st = pdb.get("status") or {}
    return st.get("currentHealthy", 0) >= st.get("desiredHealthy", 0) and st.get("desiredHealthy", 0) > 0


def _check(pdb: Object) -> EvictionRefused | None:
    """checkAndDecrement's refusals."""
    name = (pdb.get("metadata") or {}).get("name", "")
    st = pdb.get("status") or {}
    if st.get("observedGeneration", 0) < (pdb.get("metadata") or {}).get("generation", 0):
        return EvictionRefused(429, TOO_MANY, f"The disruption budget {name} is still being processed by "
                                              "the server.", retry_after=10, pdb=name)
    allowed = st.get("disruptionsAllowed", 0)
    if allowed < 0:
        return EvictionRefused(403, f'poddisruptionbudget.policy "{name}" is forbidden: pdb disruptions '
                                    "allowed is negative", pdb=name)
    if len(st.get("disruptedPods") or {}) > MAX_DISRUPTED_POD_SIZE:
        return EvictionRefused(403, f'poddisruptionbudget.policy "{name}" is forbidden: DisruptedPods map '
                                    "too big - too many evictions not confirmed by PDB controller", pdb=name)
    if allowed == 0:
        condition = next((c for c in st.get("conditions") or [] if c.get("type") == "DisruptionAllowed"), None)
        failed = condition is not None and condition.get("status") == "False" and condition.get("message")
        if failed and condition.get("reason") == "SyncFailed":
            why = (f"The disruption budget {name} does not allow evicting pods currently because it failed "
                   f"sync: {condition['message']}")
        elif st.get("currentHealthy", 0) <= st.get("desiredHealthy", 0):
            why = (f"The disruption budget {name} needs {st.get('desiredHealthy', 0)} healthy pods and has "
                   f"{st.get('currentHealthy', 0)} currently")
        elif failed:
            why = (f"The disruption budget {name} does not allow evicting pods currently "
                   f"({condition.get('reason', '')}): {condition['message']}")
        else:
            why = f"The disruption budget {name} does not allow evicting pods currently"
        return EvictionRefused(429, TOO_MANY, why, pdb=name)
    return None


def allows_eviction(pdbs: Iterable[Object], pod: Object) -> Literal[True] | EvictionRefused:
    """Whether evicting ``pod`` respects the PodDisruptionBudgets ``pdbs`` (those of its namespace)."""
    if _can_ignore_pdbs(pod):
        return True
    found = matching(pdbs, pod)
    if len(found) > 1:
        return EvictionRefused(500, "This pod has more than one PodDisruptionBudget, which the eviction "
                                    "subresource does not support.")
    if not found or _unhealthy_may_go(found[0], pod):
        return True
    return _check(found[0]) or True


def budget_to_charge(pdbs: Iterable[Object], pod: Object) -> Object | None:
    """The PDB whose disruptionsAllowed an allowed eviction of ``pod`` uses up, or None."""
    if _can_ignore_pdbs(pod):
        return None
    found = matching(pdbs, pod)
    if len(found) != 1 or _unhealthy_may_go(found[0], pod) or _check(found[0]) is not None:
        return None
    return found[0]


def charge(pdb: Object, pod_name: str, now: datetime | None = None) -> Object:
    """``pdb`` with one disruption used by ``pod_name``: the object to PUT to its /status."""
    new = copy.deepcopy(pdb)
    st = new.setdefault("status", {})
    st["disruptionsAllowed"] = st.get("disruptionsAllowed", 0) - 1
    stamp = (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    if st["disruptionsAllowed"] == 0:  # pdbhelper.UpdateDisruptionAllowedCondition
        conditions = [c for c in st.get("conditions") or [] if c.get("type") != "DisruptionAllowed"]
        old = next((c for c in st.get("conditions") or [] if c.get("type") == "DisruptionAllowed"), {})
        changed = old.get("status") != "False"
        conditions.append({"type": "DisruptionAllowed", "status": "False", "reason": "InsufficientPods",
                           "message": "",
                           "observedGeneration": st.get("observedGeneration", 0),
                           "lastTransitionTime": stamp if changed else old.get("lastTransitionTime", stamp)})
        st["conditions"] = conditions
    st.setdefault("disruptedPods", {})[pod_name] = stamp
    return new


async def create_eviction(call: SubresourceCall) -> Object:
    """POST pods/<name>/eviction: delete the pod if its PodDisruptionBudget allows, charging the
    budget first (a conflicting write of the budget is the client's 409 to retry, as in kube)."""
    name = (call.body.get("metadata") or {}).get("name")
    if name and name != call.name:
        raise status.bad_request("name in URL does not match name in Eviction object")
    pod = await call.store.get(call.namespace, call.name)
    try:
        budgets = call.stores("policy", "poddisruptionbudgets")
    except KeyError:  # policy/v1 not served: no budget to respect
        budgets = None
    pdbs = (await budgets.list(call.namespace, ListOptions())).items if budgets else []
    verdict = allows_eviction(pdbs, pod)
    if verdict is not True:
        raise verdict.error()
    budget = budget_to_charge(pdbs, pod)
    if budget is not None and budgets is not None:
        await budgets.update(call.namespace, budget["metadata"]["name"],
                             lambda current: charge(current, call.name), call.user,
                             dry_run=call.dry_run, subresource="status", check_name=False)
    await call.store.delete(call.namespace, call.name, call.user, dry_run=call.dry_run)
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}
