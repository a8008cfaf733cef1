"""The startup sequence: options → parse → validate → complete → create_server_chain →
prepare_run → run (post-start hooks) → shutdown (pre-shutdown hooks)."""

from __future__ import annotations

import time

from conftest import plugin_env, run_kernel

from kernel.plugins import installed


def test_hooks_run_in_startup_order_and_the_log_states_the_chains(kernel_process, test_plugins_path, tmp_path):
    record = tmp_path / "record"
    env = plugin_env(test_plugins_path, KERNEL_TEST_RECORD=str(record))
    kernel = kernel_process("--plugins=test_alpha", "--alpha-token=alpha-secret",
                            "--storage-backend=alpha-dict", env=env)
    deadline = time.monotonic() + 10
    while "post-start hook alpha-hook ran" not in record.read_text():
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert kernel.stop() == 0
    # The hook reports the requests in flight when it ran; the order is what matters here.
    events = [line.split(";")[0] for line in record.read_text().splitlines()]
    assert events == [
        "kernel_add_options",
        "kernel_validate_options",
        "kernel_complete_options",
        "kernel_api_groups factory",
        "authenticator alpha-token built",
        "kernel_health_checks",
        "kernel_post_start_hooks",
        "kernel_pre_shutdown_hooks",
        "post-start hook alpha-hook ran",
        "pre-shutdown hook alpha-drain ran",
    ]
    log = kernel.log()
    assert "plugins: anonymous (kernel 0.1.0), authz_always (kernel 0.1.0), loopback (kernel 0.1.0), " \
           "test_alpha (kernel-test-plugins 1.0.0)" in log
    assert "authentication chain: loopback, alpha-token, alpha-cert, anonymous" in log
    assert "authorization chain: privileged group system:masters, AlwaysAllow" in log
    assert "storage backend: alpha-dict; API groups: alpha.test.kernel.dev/v1" in log
    assert "Serving securely on 127.0.0.1:" in log
    assert log.index("Serving securely") < log.index("post-start hook alpha-hook finished")


def test_post_start_hook_is_a_readyz_check_until_it_finishes(kernel_process, test_plugins_path):
    env = plugin_env(test_plugins_path)
    kernel = kernel_process("--plugins=test_alpha", "--storage-backend=alpha-dict",
                            "--alpha-post-start-delay=1s", env=env, wait_ready=False)
    with kernel.client() as client:
        early = client.get("/readyz?verbose")
        assert early.status_code == 500
        assert "[-]poststarthook/alpha-hook failed: reason withheld" in early.text
        assert client.get("/readyz/poststarthook/alpha-hook").text == "internal server error: not finished\n"
        deadline = time.monotonic() + 10
        while client.get("/readyz").status_code != 200:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert "[+]poststarthook/alpha-hook ok" in client.get("/livez?verbose").text
    assert "lifecycle signal HasBeenReady" in kernel.log()


def storage_backend_error() -> str:
    """The default backend "memory" is unselected when kernel-storage-memory is installed."""
    if "storage_memory" in installed():
        return "--storage-backend: memory is provided by plugin storage_memory, which is not selected"
    return "--storage-backend: unknown 'memory'; available: alpha-dict"


def test_validation_reports_every_error_at_once(test_plugins_path):
    env = plugin_env(test_plugins_path)
    result = run_kernel("serve", "--plugins=test_alpha", "--secure-port=70000", "--request-timeout=soon",
                        "--anonymous-auth=maybe", "--authorization-mode=AlwaysAllow,AlwaysAllow",
                        "--tls-cert-file=/nonexistent.crt", "--alpha-token=a,b",
                        "--enable-admission-plugins=NoSuchAdmission", env=env)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    lines = [line.strip() for line in result.stderr.splitlines() if line.startswith("  ")]
    assert lines == [
        'invalid argument "70000" for "--secure-port" flag: expected an integer between 0 and 65535',
        'invalid argument "soon" for "--request-timeout" flag: expected a duration such as 30s, '
        '1m30s or 500ms (units h, m, s, ms, us, ns)',
        'invalid argument "maybe" for "--anonymous-auth" flag: expected true or false',
        "--tls-cert-file: --tls-cert-file and --tls-private-key-file must be given together",
        "--authorization-mode: has mode specified more than once: AlwaysAllow,AlwaysAllow",
        "--enable-admission-plugins: unknown 'NoSuchAdmission'; available: none",
        storage_backend_error(),
        "--alpha-token: must not contain a comma",
    ]


def test_unwritable_cert_dir_is_a_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = run_kernel("serve", f"--cert-dir={blocker}/certs")
    assert result.returncode == 1
    assert f"--cert-dir: [Errno 20] Not a directory: '{blocker}/certs'" in result.stderr
    assert "Traceback" not in result.stderr


def test_version_command():
    result = run_kernel("version")
    assert result.returncode == 0
    assert "serves Kubernetes API v1.32.4+kernel." in result.stdout
