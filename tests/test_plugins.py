"""Plugin discovery, selection, ordering and requirement errors, with real entry points."""

from __future__ import annotations

from conftest import plugin_env, run_kernel

from kernel.plugins import installed


def test_builtins_are_discovered_through_entry_points():
    result = run_kernel("plugins")
    assert result.returncode == 0, result.stderr
    assert "loopback  (built-in; kernel " in result.stdout
    assert "authorizer modes: AlwaysAllow, AlwaysDeny" in result.stdout
    builtins_only = run_kernel("plugins", "--plugins=")  # installed authenticator plugins aside
    assert "authentication: loopback, anonymous" in builtins_only.stdout


def test_installed_plugin_lists_what_it_provides(test_plugins_path):
    env = plugin_env(test_plugins_path)
    result = run_kernel("plugins", "--plugins=test_alpha,test_beta", env=env)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "test_alpha  (plugin; kernel-test-plugins 1.0.0)" in out
    assert "flags: --alpha-token, --alpha-client-ca, --alpha-fail-check, --alpha-post-start-delay" in out
    assert "authenticators: alpha-token, alpha-cert" in out
    assert "authorizer modes: AlphaAllow, AlphaDeny" in out
    assert "storage backends: alpha-dict" in out
    assert "API groups: alpha.test.kernel.dev/v1" in out
    assert "test_beta  (plugin; kernel-test-plugins 1.0.0)" in out
    assert "requires: test_alpha" in out
    # beta-token is marked configured_by("beta-token"): left out, and said so, without --beta-token.
    assert "authentication: loopback, alpha-token, alpha-cert, anonymous\n" in out
    assert "not configured: beta-token (needs --beta-token)" in out
    configured = run_kernel("plugins", "--plugins=test_alpha,test_beta", "--beta-token=b", env=env)
    assert "authentication: loopback, alpha-token, alpha-cert, beta-token, anonymous\n" in configured.stdout
    assert "not configured" not in configured.stdout


def test_plugins_order_decides_the_authentication_chain(test_plugins_path):
    env = plugin_env(test_plugins_path)
    result = run_kernel("plugins", "--plugins=test_beta,test_alpha", "--anonymous-auth=false",
                        "--beta-token=b", env=env)
    assert result.returncode == 0, result.stderr
    assert "authentication: loopback, beta-token, alpha-token, alpha-cert\n" in result.stdout


def test_unknown_plugin_lists_installed_ones(test_plugins_path):
    result = run_kernel("serve", "--plugins=test_alpha,nope", env=plugin_env(test_plugins_path))
    assert result.returncode == 1
    # Built-ins first, then every other installed plugin by name (this venv may have more).
    builtins = [name for name, ep in installed().items() if ep.dist and ep.dist.name == "kernel"]
    others = [name for name in installed() if name not in builtins]
    listed = builtins + sorted(others + ["test_admission", "test_alpha", "test_beta", "test_bootstrap",
                                          "test_gamma", "test_policy", "test_subresources"])
    assert f"--plugins: unknown plugin(s) nope; installed: {', '.join(listed)}" in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_requirement_names_both_plugins(test_plugins_path):
    env = plugin_env(test_plugins_path)
    result = run_kernel("serve", "--plugins=test_beta", env=env)
    assert result.returncode == 1
    assert "plugin test_beta requires plugin test_alpha, which is not selected" in result.stderr
    result = run_kernel("serve", "--plugins=test_gamma", env=env)
    assert result.returncode == 1
    assert "plugin test_gamma requires plugin test_missing, which is not selected (not installed)" \
        in result.stderr


def test_flag_of_unselected_plugin_names_the_plugin(test_plugins_path):
    env = plugin_env(test_plugins_path)
    result = run_kernel("serve", "--plugins=test_alpha", "--beta-token=x", env=env)
    assert result.returncode == 1
    assert "--beta-token: flag of plugin test_beta, which is not selected" in result.stderr
    result = run_kernel("serve", "--no-such-flag=1", env=env)
    assert "--no-such-flag: unknown flag" in result.stderr


def test_mode_of_unselected_plugin_names_the_plugin(test_plugins_path):
    env = plugin_env(test_plugins_path)
    result = run_kernel("serve", "--plugins=test_beta", "--authorization-mode=AlphaAllow", env=env)
    assert result.returncode == 1
    assert "--authorization-mode: AlphaAllow is provided by plugin test_alpha, which is not selected" \
        in result.stderr


def test_help_groups_flags_by_plugin(test_plugins_path):
    result = run_kernel("serve", "--plugins=test_alpha", "--help", env=plugin_env(test_plugins_path))
    assert result.returncode == 0
    out = result.stdout
    assert out.index("kernel flags:") < out.index("--secure-port") < out.index("test_alpha flags:") \
        < out.index("--alpha-token")
    assert "(default 6443)" in out


def test_empty_plugins_flag_selects_only_builtins(test_plugins_path):
    result = run_kernel("plugins", "--plugins=", env=plugin_env(test_plugins_path))
    assert result.returncode == 0, result.stderr
    loaded = [line.split()[0] for line in result.stdout.splitlines() if "(built-in;" in line or "(plugin;" in line]
    assert loaded == ["anonymous", "authz_always", "loopback"]


def test_unconfigured_components_are_named_alike_by_the_startup_log_and_kernel_plugins(
        kernel_process, tmp_path):
    flags = ["--plugins=api_core,storage_memory,authn_oidc,authn_token,authn_x509"]
    expected = ("not configured: oidc (needs --oidc-issuer-url or --authentication-config), "
                "token-file (needs --token-auth-file), x509 (needs --client-ca-file)")
    cert_dir = tmp_path / "plugins-certs"
    listed = run_kernel("plugins", *flags, f"--cert-dir={cert_dir}")
    assert listed.returncode == 0, listed.stderr
    assert f"  {expected}\n" in listed.stdout
    assert "  authentication: loopback, anonymous\n" in listed.stdout
    assert not cert_dir.exists()  # kernel plugins builds nothing: no certificates
    unknown = run_kernel("plugins", *flags, "--authorization-mode=NoSuchMode")  # serve's to refuse
    assert unknown.returncode == 0 and "Traceback" not in unknown.stderr
    assert "  authorization: privileged group system:masters, NoSuchMode\n" in unknown.stdout
    kernel = kernel_process(*flags)
    log = kernel.log()
    assert "authentication chain: loopback, anonymous" in log
    assert expected in log
    kernel.stop()
    # A configured one leaves the list; the others stay.
    tokens = tmp_path / "tokens.csv"
    tokens.write_text("t0k3n,alice,1\n")
    listed = run_kernel("plugins", *flags, f"--token-auth-file={tokens}")
    assert "  authentication: loopback, token-file, anonymous\n" in listed.stdout
    assert ("not configured: oidc (needs --oidc-issuer-url or --authentication-config), "
            "x509 (needs --client-ca-file)\n") in listed.stdout


def test_a_factory_returning_none_is_named_unconfigured_in_the_startup_log(kernel_process, test_plugins_path):
    # test_alpha's alpha-token factory has no configured_by mark: it returns None without the flag.
    kernel = kernel_process("--plugins=test_alpha,test_beta", "--storage-backend=alpha-dict",
                            env=plugin_env(test_plugins_path))
    assert "authentication chain: loopback, alpha-cert, anonymous" in kernel.log()
    assert "not configured: alpha-token, beta-token (needs --beta-token)" in kernel.log()


def test_module_plugins_hook_implementations_are_found_as_pluggy_finds_them():
    # The manager reads a module plugin's own namespace instead of pluggy's getattr_static
    # walk over every name; it must find exactly what pluggy finds: marked functions (a bound
    # method too), not unmarked ones, imported names or non-routines carrying the marker.
    import types

    import pluggy

    from kernel import hookimpl, hookspecs
    from kernel.plugins import PluginInfo, PluginManager, select

    class Holder:
        @hookimpl
        def kernel_requires(self):
            return []

    module = types.ModuleType("kernel_probe_plugin")
    module.kernel_routes = hookimpl(lambda context: {})
    module.kernel_health_checks = lambda context: []  # not marked: not a hook
    module.not_a_routine = types.SimpleNamespace(kernel_impl={})  # marked, but not callable
    module.kernel_requires = Holder().kernel_requires
    module.hookimpl = hookimpl  # an imported name
    infos = [*select(None), PluginInfo("probe", "kernel-probe", "0", module)]

    def found(pm):
        return sorted((caller.name, impl.plugin_name, impl.function.__qualname__)
                      for caller in vars(pm.hook).values() if isinstance(caller, pluggy.HookCaller)
                      for impl in caller.get_hookimpls())

    reference = pluggy.PluginManager("kernel")
    reference.add_hookspecs(hookspecs)
    for info in infos:
        reference.register(info.module, name=info.name)
    ours = found(PluginManager(infos).pm)
    assert ours == found(reference)
    assert {(hook, plugin) for hook, plugin, _ in ours if plugin == "probe"} == {
        ("kernel_routes", "probe"), ("kernel_requires", "probe")}
