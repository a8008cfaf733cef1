"""The allowlist file and the authorizer that reads it.

The file maps user names to rules; a rule names verbs and either resources or non-resource URLs::

    users:
      jane:
        - verbs: [get, list]
          resources: [configmaps, pods/log]   # resource[/subresource]; "*" is any
        - verbs: [get]
          nonResourceURLs: [/healthz, /apis/*]  # a trailing "*" matches a prefix
"""

from __future__ import annotations

from pathlib import Path

import msgspec

from kernel.authorization import Attributes, Decision

NOT_LISTED = "not in the allowlist"


class Rule(msgspec.Struct, forbid_unknown_fields=True, rename="camel"):
    verbs: list[str]
    resources: list[str] = []
    non_resource_urls: list[str] = msgspec.field(default_factory=list, name="nonResourceURLs")

    def allows(self, attributes: Attributes) -> bool:
        if "*" not in self.verbs and attributes.verb not in self.verbs:
            return False
        if not attributes.resource_request:
            return any(attributes.path == url or (url.endswith("*") and attributes.path.startswith(url[:-1]))
                       for url in self.non_resource_urls)
        wanted = attributes.resource + (f"/{attributes.subresource}" if attributes.subresource else "")
        return "*" in self.resources or wanted in self.resources


class Allowlist(msgspec.Struct, forbid_unknown_fields=True):
    users: dict[str, list[Rule]] = {}


class AllowlistError(ValueError):
    """The file cannot be used; the message says where."""


def parse(text: str, source: str) -> Allowlist:
    # Imported here, not at the top: every plugin installed is imported when the server starts,
    # and only a server given an allowlist file needs a YAML parser (PyYAML costs ~6 ms).
    import yaml

    # msgspec checks the shape (types, unknown fields) that yaml alone would let through.
    try:
        return msgspec.convert(yaml.safe_load(text) or {}, Allowlist)
    except (yaml.YAMLError, msgspec.ValidationError) as error:
        raise AllowlistError(f"{source}: {error}") from error


class AllowlistAuthorizer:
    """Allow what the file lists for the user; NoOpinion otherwise (the next mode decides)."""

    def __init__(self, allowlist: Allowlist) -> None:
        self.users = allowlist.users

    @classmethod
    def from_file(cls, path: str) -> AllowlistAuthorizer:
        try:
            text = Path(path).read_text()
        except OSError as error:
            raise AllowlistError(f"{path}: {error.strerror}") from error
        return cls(parse(text, path))

    async def authorize(self, attributes: Attributes) -> tuple[Decision, str]:
        rules = self.users.get(attributes.user.name, ())
        if any(rule.allows(attributes) for rule in rules):
            return Decision.ALLOW, ""
        return Decision.NO_OPINION, NOT_LISTED
