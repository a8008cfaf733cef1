"""/healthz, /livez, /readyz: named checks, ?verbose, ?exclude, per-check paths, /version."""

from __future__ import annotations

from conftest import plugin_env


async def test_verbose_lists_every_named_check(kernel_in_process):
    kernel = await kernel_in_process("--plugins=")  # built-ins only: exact check lists
    async with kernel.client() as client:
        readyz = await client.get("/readyz?verbose")
        assert readyz.status_code == 200
        assert readyz.text == "[+]ping ok\n[+]log ok\n[+]shutdown ok\nreadyz check passed\n"
        assert readyz.headers["content-type"] == "text/plain; charset=utf-8"
        livez = await client.get("/livez", params={"verbose": ""})
        assert livez.text == "[+]ping ok\n[+]log ok\nlivez check passed\n"
        healthz = await client.get("/healthz")
        assert (healthz.status_code, healthz.text) == (200, "ok")


async def test_exclude_and_unknown_exclude_warning(kernel_in_process):
    kernel = await kernel_in_process("--plugins=")  # built-ins only: exact check lists
    async with kernel.client() as client:
        response = await client.get("/readyz?verbose&exclude=log&exclude=nope")
        assert response.text == ('[+]ping ok\n[+]log excluded: ok\n[+]shutdown ok\n'
                                 'warn: some health checks cannot be excluded: no matches for "nope"\n'
                                 'readyz check passed\n')


async def test_per_check_paths(kernel_in_process):
    kernel = await kernel_in_process("--plugins=")  # built-ins only: exact check lists
    async with kernel.client() as client:
        assert (await client.get("/readyz/ping")).text == "ok"
        assert (await client.get("/livez/log")).text == "ok"
        assert (await client.get("/livez/shutdown")).status_code == 404  # readyz only
        assert (await client.get("/readyz/nope")).status_code == 404


async def test_readyz_fails_once_shutdown_starts(kernel_in_process):
    kernel = await kernel_in_process("--plugins=", "--shutdown-delay-duration=10s")
    async with kernel.client() as client:
        kernel.server.shutdown()
        response = await client.get("/readyz")
        assert response.status_code == 500
        assert "[-]shutdown failed: reason withheld\nreadyz check failed\n" in response.text
        assert (await client.get("/readyz/shutdown")).text == "internal server error: process is shutting down\n"
        assert (await client.get("/livez")).status_code == 200  # still alive during the delay


def test_failing_plugin_check_fails_readyz_not_livez(kernel_process, test_plugins_path):
    kernel = kernel_process("--plugins=test_alpha", "--storage-backend=alpha-dict", "--alpha-fail-check",
                            env=plugin_env(test_plugins_path), wait_ready=False)
    with kernel.client() as client:
        response = client.get("/readyz")
        assert response.status_code == 500
        assert "[-]alpha-check failed: reason withheld\n" in response.text
        assert response.text.endswith("readyz check failed\n")
        assert client.get("/readyz/alpha-check").text == "internal server error: alpha is unhappy\n"
        assert client.get("/readyz?exclude=alpha-check").status_code == 200
        assert client.get("/livez").status_code == 200
        assert client.get("/healthz").status_code == 500  # the legacy endpoint runs every check
    assert "[-]alpha-check failed: alpha is unhappy" in kernel.log()


async def test_health_endpoints_refuse_writes(kernel_in_process):
    kernel = await kernel_in_process("--plugins=")  # built-ins only: exact check lists
    async with kernel.client() as client:
        response = await client.post("/readyz")
        assert response.status_code == 405
        assert response.json()["reason"] == "MethodNotAllowed"


async def test_version_has_kube_shape(kernel_in_process):
    kernel = await kernel_in_process("--plugins=")  # built-ins only: exact check lists
    async with kernel.client(token=None) as client:
        for path in ("/version", "/version/"):  # the Python client asks with a trailing slash
            info = (await client.get(path)).json()
            assert info["major"] == "1" and info["minor"] == "32"
            assert info["gitVersion"].startswith("v1.32.4+kernel.")
            assert set(info) >= {"gitCommit", "gitTreeState", "buildDate", "goVersion", "compiler", "platform"}
