"""kube's clusterrole-aggregation controller: a ClusterRole with ``aggregationRule`` holds the
union of the rules of every ClusterRole its ``clusterRoleSelectors`` match.

Any change to a ClusterRole queues every aggregating ClusterRole (a label change may add or drop
a match); a worker recomputes each one from the informer and writes it through the loopback
client only when its rules differ. admin, edit and view aggregate the
``rbac.authorization.k8s.io/aggregate-to-*`` roles this way.
"""

from __future__ import annotations

import logging
from typing import Any

import trio

from kernel.apimachinery.selectors import label_selector_from_dict
from kernel.apimachinery.status import StatusError
from kernel.context import ServerContext

from kernel_api_rbac.validation import GROUP

USER_AGENT = "kernel/clusterrole-aggregation-controller"
log = logging.getLogger("kernel_api_rbac.aggregation")
Object = dict[str, Any]


def _normalized(rule: Any) -> Any:
    """A rule without empty fields: ``[]`` and an absent field mean the same."""
    return {k: v for k, v in rule.items() if v not in (None, [], "")} if isinstance(rule, dict) else rule


def aggregated_rules(role: Object, cluster_roles: list[Object]) -> list[Object]:
    """The rules ``role`` aggregates: those of the roles its selectors match, by name, each once."""
    name = role["metadata"]["name"]
    rules: list[Object] = []
    seen: list[Any] = []
    for selector in (role.get("aggregationRule") or {}).get("clusterRoleSelectors") or []:
        matches = label_selector_from_dict(selector)
        for other in sorted(cluster_roles, key=lambda r: r["metadata"]["name"]):
            if other["metadata"]["name"] == name:
                continue
            if not matches.matches(other["metadata"].get("labels") or {}):
                continue
            for rule in other.get("rules") or []:
                key = _normalized(rule)
                if key not in seen:
                    seen.append(key)
                    rules.append(rule)
    return rules


class AggregationController:
    def __init__(self, context: ServerContext) -> None:
        self.context = context
        self.informer = context.informer(GROUP, "clusterroles")
        self.queue: set[str] = set()
        self.wake = trio.Event()
        self.written: dict[str, int] = {}  # the resourceVersion of this controller's last write
        # role -> (its resourceVersion, the informer's revision) when found aggregated: the
        # informer changes its objects and revision together, between two awaits, so the same
        # pair means the same answer (a restart replays ~70 adds, each queueing every aggregator)
        self._aggregated_at: dict[str, tuple[str, int]] = {}
        self._writing = trio.Lock()  # run's worker and the bootstrap's sync_all, one at a time

    def _enqueue_aggregators(self, *_: Object) -> None:
        for role in self.informer.list():
            if role.get("aggregationRule"):
                self.queue.add(role["metadata"]["name"])
        self.wake.set()

    def stale(self, role: Object) -> bool:
        """Whether an aggregating role lacks the union of what its selectors match."""
        name, seen_at = role["metadata"]["name"], (role["metadata"].get("resourceVersion") or "",
                                                   self.informer.revision)
        if self._aggregated_at.get(name) == seen_at:
            return False
        rules = aggregated_rules(role, self.informer.list())
        if [_normalized(r) for r in rules] != [_normalized(r) for r in role.get("rules") or []]:
            return True
        self._aggregated_at[name] = seen_at
        return False

    async def sync(self, name: str) -> None:
        """Aggregate one role (write it when its rules are not the union of what it selects).

        Only from a state of the role at least as new as this controller's last write of it: an
        older one (the informer has not seen that write yet) would be refused with a conflict.
        A newer state of the role, or of a role it aggregates, reaches the informer as an event,
        which queues the role again: a write refused with a conflict needs no retry of its own.
        """
        async with self._writing:
            role = self.informer.get(name)
            if role is None or not role.get("aggregationRule") or not self.stale(role):
                return
            if int(role["metadata"].get("resourceVersion") or 0) < self.written.get(name, 0):
                return
            client = self.context.loopback_client(USER_AGENT)
            try:
                updated = await client.update(f"/apis/{GROUP}/v1/clusterroles/{name}", {
                    **role, "rules": aggregated_rules(role, self.informer.list())})
            except StatusError as error:
                if error.code not in (404, 409):
                    raise
                return
            self.written[name] = int(updated["metadata"]["resourceVersion"])

    async def sync_all(self, timeout: float = 30.0) -> None:
        """Until the informer holds every aggregating ClusterRole aggregated (the bootstrap
        hook's last step, so /readyz implies admin, edit and view are complete)."""
        await self.informer.wait_synced()
        with trio.move_on_after(timeout):
            while True:
                pending = [role for role in self.informer.list()
                           if role.get("aggregationRule") and self.stale(role)]
                if not pending:
                    return
                for role in pending:  # sync skips a role the informer shows older than its write
                    await self.sync(role["metadata"]["name"])
                await trio.sleep(0.01)  # let the informer see the writes
        log.warning("aggregated clusterroles not settled after %gs; the controller goes on", timeout)

    async def run(self) -> None:
        self.informer.add_event_handler(self._enqueue_aggregators, self._enqueue_aggregators,
                                        self._enqueue_aggregators)
        while True:
            await self.wake.wait()
            self.wake = trio.Event()
            while self.queue:
                name = min(self.queue)
                self.queue.discard(name)
                try:
                    await self.sync(name)
                except StatusError as error:
                    log.warning("unable to aggregate clusterrole %s: %s", name, error)
                    await trio.sleep(1)
                    self.queue.add(name)
