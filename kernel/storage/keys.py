"""Storage keys, laid out the way kube-apiserver lays them out in etcd.

``/registry/<resource prefix>/[<namespace>/]<name>`` where the resource prefix is, as in kube
(``k8s.io/kubernetes/pkg/kubeapiserver/default_storage_factory_builder.go`` and apiextensions):

- a handful of compiled-in overrides: nodes → ``minions``, services → ``services/specs``,
  endpoints → ``services/endpoints``, replicationcontrollers → ``controllers``, ingresses →
  ``ingress``;
- built-in groups (no dot in the name, or ending in ``.k8s.io``): the resource alone, so
  ``/registry/configmaps/default/x``, ``/registry/deployments/default/x``,
  ``/registry/namespaces/default``;
- apiextensions.k8s.io, apiregistration.k8s.io and every other group (custom resources):
  ``<group>/<resource>``, e.g. ``/registry/stable.example.com/crontabs/default/x``.

Every prefix ends with ``/`` so that namespace ``a`` never matches namespace ``ab``.
"""

from __future__ import annotations

DEFAULT_ROOT = "/registry"

_SPECIAL_PREFIXES = {
    ("", "replicationcontrollers"): "controllers",
    ("", "endpoints"): "services/endpoints",
    ("", "services"): "services/specs",
    ("", "nodes"): "minions",
    ("extensions", "ingresses"): "ingress",
    ("networking.k8s.io", "ingresses"): "ingress",
}
_GROUP_PREFIXED = frozenset({"apiextensions.k8s.io", "apiregistration.k8s.io"})


def resource_prefix(group: str, resource: str, *, root: str = DEFAULT_ROOT) -> str:
    """The key prefix of every object of a resource, ending with ``/``.

    >>> resource_prefix("", "configmaps")
    '/registry/configmaps/'
    >>> resource_prefix("stable.example.com", "crontabs")
    '/registry/stable.example.com/crontabs/'
    """
    if not resource or "/" in resource:
        raise ValueError(f"invalid resource name {resource!r}")
    special = _SPECIAL_PREFIXES.get((group, resource))
    if special is not None:
        part = special
    elif group in _GROUP_PREFIXED or ("." in group and not group.endswith(".k8s.io")):
        part = f"{group}/{resource}"
    else:
        part = resource
    return f"{root.rstrip('/')}/{part}/"


def validate_path_segment(name: str) -> None:
    """Refuse names that cannot be one key segment (kube's path.IsValidPathSegmentName).

    The ValueError's message is kube's ``Name parameter invalid`` text, for a 400 answer.
    """
    problems = []
    if name in (".", ".."):
        problems.append(f"may not be '{name}'")
    for bad in ("/", "%"):
        if bad in name:
            problems.append(f"may not contain '{bad}'")
    if problems:
        raise ValueError(f'Name parameter invalid: "{name}": {";".join(problems)}')


def list_prefix(prefix: str, namespace: str | None = None) -> str:
    """The prefix listing one namespace (or all namespaces / a cluster-scoped resource)."""
    if not namespace:
        return prefix
    validate_path_segment(namespace)
    return f"{prefix}{namespace}/"


def object_key(prefix: str, name: str, namespace: str | None = None) -> str:
    """The key of one object: ``<prefix>[<namespace>/]<name>``."""
    if not name:
        raise ValueError("Name parameter required.")
    validate_path_segment(name)
    return list_prefix(prefix, namespace) + name


def prefix_end(prefix: str) -> str | None:
    """The smallest string greater than every string starting with ``prefix`` (etcd's range end).

    None when there is no such bound (empty prefix): the range is open-ended.
    """
    if not prefix:
        return None
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)
