"""authz_allowlist: an example out-of-tree authorization mode, ``Allowlist``."""

from __future__ import annotations

from kernel import hookimpl
from kernel.plugins import configured_by

from kernel_authz_allowlist.allowlist import AllowlistAuthorizer, AllowlistError

MODE = "Allowlist"


@hookimpl
def kernel_add_options(options):
    options.add("allowlist-file", default="",
                help="YAML file of users and the verbs, resources and non-resource URLs each may use "
                     "(read by --authorization-mode=Allowlist).")


@hookimpl
def kernel_validate_options(options):
    selected = MODE in options.authorization_mode
    if not options.allowlist_file:
        return [f"--authorization-mode={MODE} needs --allowlist-file"] if selected else []
    try:
        AllowlistAuthorizer.from_file(options.allowlist_file)
    except AllowlistError as error:
        return [f"--allowlist-file: {error}"]
    return []


@configured_by("allowlist-file")
def _authorizer(context) -> AllowlistAuthorizer:
    return AllowlistAuthorizer.from_file(context.options.allowlist_file)


@hookimpl
def kernel_authorizers():
    return {MODE: _authorizer}
