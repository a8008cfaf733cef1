"""Auditing is in the request chain only with a policy and a configured backend (kube's WithAudit
returns the handler itself otherwise), and the backends are the server's components."""

from __future__ import annotations

from pathlib import Path

from kernel.audit import Backend, PolicyRuleEvaluator
from kernel.testing import assemble

PLUGINS = "--plugins=api_core,storage_memory,audit"


def test_no_policy_or_no_backend_leaves_auditing_out(tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text("apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: Metadata\n")
    for flags, built in (([], False), ([f"--audit-log-path={tmp_path / 'a.log'}"], True),
                         ([f"--audit-policy-file={policy}"], False)):
        server = assemble(tmp_path, PLUGINS, *flags)
        assert server.audit_sink is None and server.audit_policy is None, flags
        assert (server.context.component("audit_backends", "log") is not None) is built
    server = assemble(tmp_path, PLUGINS, f"--audit-policy-file={policy}",
                      f"--audit-log-path={tmp_path / 'a.log'}")
    assert isinstance(server.audit_policy, PolicyRuleEvaluator)
    backend = server.context.component("audit_backends", "log")
    assert isinstance(backend, Backend) and server.audit_backends == [backend]
    assert (tmp_path / "a.log").exists()  # created at startup, as kube's ensureLogFile does
    assert oct((tmp_path / "a.log").stat().st_mode & 0o777) == oct(0o600)
