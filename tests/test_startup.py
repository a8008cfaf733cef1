"""The startup sequence: options → parse → validate → complete → create_server_chain →
prepare_run → run (post-start hooks) → shutdown (pre-shutdown hooks)."""

from __future__ import annotations

import re
import signal
import socket
import ssl
import subprocess
import time
from pathlib import Path

import httpx

from conftest import plugin_env, run_kernel

from kernel.plugins import installed

ROOT = Path(__file__).resolve().parent.parent


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


def test_a_value_that_does_not_parse_is_one_line_naming_flag_value_and_expected_form():
    cases = {
        "--secure-port=abc": 'invalid argument "abc" for "--secure-port" flag: '
                             "expected an integer between 0 and 65535",
        "--bind-address=localhost": 'invalid argument "localhost" for "--bind-address" flag: '
                                    "expected an IP address such as 127.0.0.1 or ::1",
        "--shutdown-delay-duration=-1s": 'invalid argument "-1s" for "--shutdown-delay-duration" flag: '
                                         "expected a duration such as 30s, 1m30s or 500ms "
                                         "(units h, m, s, ms, us, ns), not negative",
        "--shutdown-send-retry-after=yes": 'invalid argument "yes" for "--shutdown-send-retry-after" '
                                           "flag: expected true or false",
        "--max-requests-inflight=-5": 'invalid argument "-5" for "--max-requests-inflight" flag: '
                                      "expected an integer of 0 or more",
        # A plugin's flag with type=int: Python's own message would not say what was expected.
        "--storage-memory-history=lots": 'invalid argument "lots" for "--storage-memory-history" '
                                         "flag: expected an integer",
    }
    for arg, message in cases.items():
        result = run_kernel("serve", arg)
        assert result.returncode == 1, arg
        assert result.stderr == f"Error: {message}\n", arg


def test_help_shows_every_default_including_booleans_and_zero_durations():
    out = run_kernel("serve", "--help").stdout
    flags = {}  # --flag → its help text (argparse wraps it over several lines)
    for line in out.splitlines():
        if line.startswith("  -"):  # "  --flag type  help" or "  -v int, --v int  help"
            name = next(word.rstrip(",") for word in line.split() if word.startswith("--"))
            flags[name] = line
        elif flags and line.startswith(" " * 10):
            flags[name] += " " + line.strip()
    assert flags["--anonymous-auth"].split()[:2] == ["--anonymous-auth", "Enables"]  # no "[]" metavar
    assert flags["--anonymous-auth"].endswith("(default true)")
    assert flags["--shutdown-send-retry-after"].endswith("(default false)")
    assert flags["--shutdown-delay-duration"].endswith("(default 0s)")
    assert flags["--request-timeout"].endswith("(default 1m0s)")
    assert flags["--cert-dir"].endswith('(default "/var/run/kubernetes")')
    assert flags["--authorization-mode"].endswith("(default [AlwaysAllow])")
    assert flags["--tls-private-key-file"].endswith(" --tls-cert-file.")  # flag names never split
    # Only flags whose default is an empty string or list (unset) show none.
    unset = {name for name, text in flags.items() if "(default " not in text}
    assert unset >= {"--tls-cert-file", "--write-kubeconfig", "--enable-admission-plugins"}
    assert not unset & {"--bind-address", "--secure-port", "--max-requests-inflight",
                        "--etcd-compaction-interval", "--storage-memory-history"}


def test_a_port_in_use_is_one_line_and_exit_1(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_kernel("serve", "--bind-address=127.0.0.1", f"--secure-port={port}",
                            f"--cert-dir={tmp_path}")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if "failed to listen" in line]
    assert errors == [f"Error: failed to listen on 127.0.0.1:{port}: address already in use"]
    assert result.stderr.endswith(errors[0] + "\n")


def test_an_address_not_on_this_host_is_one_line_and_exit_1(tmp_path):
    # 192.0.2.0/24 is TEST-NET-1: documentation only, never assigned to a host.
    result = run_kernel("serve", "--bind-address=192.0.2.1", "--secure-port=0", f"--cert-dir={tmp_path}")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.endswith("Error: failed to listen on 192.0.2.1:0: cannot assign requested address\n")


INSECURE = "INSECURE: anonymous requests are allowed everything"


def test_anonymous_always_allow_on_a_non_loopback_address_warns_once(kernel_process):
    kernel = kernel_process("--bind-address=0.0.0.0", "--authorization-mode=AlwaysAllow")
    warnings = [line for line in kernel.log().splitlines() if INSECURE in line]
    assert len(warnings) == 1 and warnings[0].startswith("W")
    assert "(--anonymous-auth=true with --authorization-mode=AlwaysAllow) on 0.0.0.0" in warnings[0]
    with kernel.client(token=None) as client:  # what the warning is about
        assert client.get("/api/v1/namespaces").status_code == 200
    assert kernel.stop() == 0


def test_no_insecure_warning_when_anything_closes_the_hole():
    # kernel plugins prints the warnings kernel serve would log, without serving.
    assert INSECURE in run_kernel("plugins", "--bind-address=0.0.0.0", "--authorization-mode=AlwaysAllow").stdout
    assert INSECURE in run_kernel("plugins", "--bind-address=::", "--authorization-mode=AlwaysAllow").stdout
    for flags in (["--bind-address=0.0.0.0"],  # every plugin installed: Node,RBAC by default
                  ["--bind-address=127.0.0.1", "--authorization-mode=AlwaysAllow"],
                  ["--bind-address=::1", "--authorization-mode=AlwaysAllow"],
                  ["--bind-address=0.0.0.0", "--anonymous-auth=false"],
                  ["--bind-address=0.0.0.0", "--authorization-mode=AlwaysDeny"],
                  ["--bind-address=0.0.0.0", "--authorization-mode=AlwaysDeny,AlwaysAllow"]):
        result = run_kernel("plugins", *flags)
        assert result.returncode == 0, result.stderr
        assert INSECURE not in result.stdout, flags


def test_a_plugins_selection_serving_no_api_group_warns(kernel_process, test_plugins_path):
    kernel = kernel_process("--plugins=test_beta,test_alpha", "--storage-backend=alpha-dict",
                            env=plugin_env(test_plugins_path))
    assert "selects no plugin that serves an API group" not in kernel.log()  # test_alpha serves one
    kernel.stop()
    kernel = kernel_process("--plugins=authn_token")
    warnings = [line for line in kernel.log().splitlines() if "serves an API group" in line]
    assert len(warnings) == 1 and warnings[0].startswith("W")
    assert "--plugins=authn_token selects no plugin that serves an API group" in warnings[0]
    assert "--plugins replaces the default list (all installed plugins)" in warnings[0]
    with kernel.client() as client:
        assert client.get("/api/v1/namespaces").status_code == 404
    assert kernel.stop() == 0


def serve_script(tmp_path, *args: str, while_serving=None) -> tuple[str, str]:
    """Run ``bash scripts/serve`` until it wrote its kubeconfig (and, given ``while_serving``,
    until ``while_serving(url, ca_file)`` returned); its server URL and its output."""
    tmp_path.mkdir()
    kubeconfig, log_path = tmp_path / "kubeconfig", tmp_path / "serve.log"
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            ["bash", str(ROOT / "scripts" / "serve"), "--secure-port=0", f"--cert-dir={tmp_path}/certs",
             f"--data-dir={tmp_path}/data", f"--write-kubeconfig={kubeconfig}", *args], stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while not kubeconfig.exists():
            assert process.poll() is None and time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.05)
        url = re.search(r'"server": "([^"]+)"', kubeconfig.read_text()).group(1)
        if while_serving is not None:
            while_serving(url, str(tmp_path / "certs" / "ca.crt"))
    finally:
        process.send_signal(signal.SIGTERM)  # scripts/serve execs kernel serve
        assert process.wait(30) == 0
    return url, log_path.read_text()


def test_scripts_serve_listens_on_loopback_unless_told_otherwise(tmp_path):
    url, log = serve_script(tmp_path / "default")
    assert url.startswith("https://127.0.0.1:")
    assert "Serving securely on 127.0.0.1:" in log
    assert INSECURE not in log
    assert "scripts/install" not in log  # installed already: the install step says nothing
    url, log = serve_script(tmp_path / "all", "--bind-address", "0.0.0.0")
    assert "Serving securely on 0.0.0.0:" in log
    assert INSECURE not in log  # Node,RBAC: anonymous requests get what the bootstrap policy grants
    url, log = serve_script(tmp_path / "allow", "--bind-address", "0.0.0.0", "--authorization-mode=AlwaysAllow")
    assert INSECURE in log


def test_the_quickstart_refuses_anonymous_writes(tmp_path):
    def try_anonymously(url: str, ca_file: str) -> None:
        port = url.rsplit(":", 1)[1]
        context = ssl.create_default_context(cafile=ca_file)
        with httpx.Client(base_url=f"https://127.0.0.1:{port}", verify=context, timeout=30) as client:
            deadline = time.monotonic() + 30
            while client.get("/readyz").status_code != 200:  # readable by anyone once bootstrapped
                assert time.monotonic() < deadline
                time.sleep(0.05)
            response = client.post("/api/v1/namespaces/default/secrets",
                                   json={"metadata": {"name": "planted"}, "stringData": {"k": "v"}})
            assert response.status_code == 403, response.text
            assert response.json()["message"].startswith(
                'secrets is forbidden: User "system:anonymous" cannot create resource "secrets"')
            assert client.get("/api/v1/namespaces/default/secrets").status_code == 403
            assert client.get("/version").status_code == 200

    url, log = serve_script(tmp_path / "quickstart", while_serving=try_anonymously)
    assert "authorization chain: privileged group system:masters, Node, RBAC" in log
