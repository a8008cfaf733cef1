"""pods/eviction: the PodDisruptionBudget rules (kernel_api_core.eviction) on objects; the
subresource through the real server is tests/e2e/test_core_v1.py's."""

from __future__ import annotations


from kernel_api_core.eviction import allows_eviction, budget_to_charge, charge


def _pod(phase: str = "Running", ready: bool = True, **labels) -> dict:
    return {"metadata": {"name": "p1", "namespace": "default", "labels": labels},
            "status": {"phase": phase, "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}}


def _budget(name: str = "b", allowed: int = 1, generation: int = 1, observed: int = 1, **extra) -> dict:
    return {"metadata": {"name": name, "namespace": "default", "generation": generation},
            "spec": {"selector": {"matchLabels": {"app": "a"}}, **extra},
            "status": {"disruptionsAllowed": allowed, "observedGeneration": observed,
                       "currentHealthy": 2, "desiredHealthy": 2}}


def test_allows_eviction() -> None:
    pod = _pod(app="a")
    assert allows_eviction([], pod) is True
    assert allows_eviction([_budget(allowed=1)], pod) is True
    assert budget_to_charge([_budget(allowed=1)], pod)["metadata"]["name"] == "b"

    refused = allows_eviction([_budget(allowed=0)], pod)
    assert refused is not True and refused.code == 429
    error = refused.error()
    assert error.message == "Cannot evict pod as it would violate the pod's disruption budget."
    assert error.details["causes"] == [{"reason": "DisruptionBudget",
                                        "message": "The disruption budget b needs 2 healthy pods and has 2 currently"}]
    stale = allows_eviction([_budget(generation=2, observed=1)], pod)
    assert stale.code == 429 and stale.retry_after == 10 and "still being processed" in stale.cause
    two = allows_eviction([_budget("b1"), _budget("b2")], pod)
    assert two.code == 500 and "more than one PodDisruptionBudget" in two.message
    # other labels, other namespaces, terminal or pending pods: the budget does not apply
    assert allows_eviction([_budget(allowed=0)], _pod(app="other")) is True
    assert allows_eviction([_budget(allowed=0)], _pod("Succeeded", app="a")) is True
    assert allows_eviction([_budget(allowed=0)], _pod("Pending", app="a")) is True
    assert budget_to_charge([_budget(allowed=1)], _pod("Pending", app="a")) is None
    # an unready pod may go when the budget is met or the policy says AlwaysAllow
    unready = _pod(ready=False, app="a")
    assert allows_eviction([_budget(allowed=0)], unready) is True
    assert budget_to_charge([_budget(allowed=0)], unready) is None
    assert allows_eviction([_budget(allowed=0, unhealthyPodEvictionPolicy="AlwaysAllow")], unready) is True


def test_charge_uses_one_disruption() -> None:
    charged = charge(_budget(allowed=1), "p1")
    st = charged["status"]
    assert st["disruptionsAllowed"] == 0 and "p1" in st["disruptedPods"]
    assert st["conditions"][0]["type"] == "DisruptionAllowed" and st["conditions"][0]["status"] == "False"
    assert st["conditions"][0]["reason"] == "InsufficientPods"
