"""The debug plugin through a real server: kubectl --raw, httpx, the request log and AlwaysDeny."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import trio

from kernel.testing import start_kernel
from kernel_debug.tasks import task_tree

PLUGINS = "--plugins=api_core,storage_memory,authn_token,debug"
REQUEST_LINE = re.compile(r'kernel\.httplog\] "HTTP" verb="LIST" URI="/api/v1/namespaces/default/'
                          r'configmaps\?limit=(\d+)"')


@pytest.fixture
def kernel(tmp_path: Path):
    tokens = tmp_path / "tokens.csv"
    tokens.write_text("jane-token,jane,uid-jane,dev\n")
    running = start_kernel(tmp_path, PLUGINS, f"--token-auth-file={tokens}",
                           "--authorization-mode=AlwaysDeny")
    yield running
    if running.process.poll() is None:
        running.process.kill()


def _put_verbosity(kernel, tmp_path: Path, value: str) -> str:
    body = tmp_path / "v"
    body.write_text(value)
    return kernel.kubectl("replace", "--raw", "/debug/flags/v", "-f", str(body)).stdout


def _logged_limits(kernel) -> list[str]:
    return REQUEST_LINE.findall(kernel.log())


def test_put_verbosity_turns_the_request_log_on_and_off(kernel, tmp_path):
    def list_configmaps(limit: int) -> None:
        with kernel.client() as client:
            assert client.get(f"/api/v1/namespaces/default/configmaps?limit={limit}").status_code == 200

    assert kernel.kubectl("get", "--raw", "/debug/flags/v").stdout.strip() == "0"
    list_configmaps(1)
    assert _put_verbosity(kernel, tmp_path, "2").strip() == \
        "successfully set klog.logging.verbosity to 2"
    assert kernel.kubectl("get", "--raw", "/debug/flags/v").stdout.strip() == "2"
    list_configmaps(2)
    assert _put_verbosity(kernel, tmp_path, "0").strip() == \
        "successfully set klog.logging.verbosity to 0"
    list_configmaps(3)
    assert kernel.stop() == 0
    assert _logged_limits(kernel) == ["2"]  # only the request made at -v=2 is logged
    assert "log verbosity set to 2" in kernel.log()


def test_a_bad_level_is_400_and_changes_nothing(kernel):
    with kernel.client() as client:
        for body in (b"two", b" 2", b"2\n", b"-1", b""):
            response = client.put("/debug/flags/v", content=body)
            assert response.status_code == 400, body
            assert response.text.startswith(f"failed set klog.logging.verbosity {body.decode()}: ")
            assert response.headers["content-type"].startswith("text/plain")
        assert client.get("/debug/flags/v").text == "0\n"
        assert client.put("/debug/flags/v", content=b"+3").status_code == 200
        assert client.get("/debug/flags/v").text == "3\n"
        assert client.post("/debug/flags/v", content=b"1").status_code == 405
        assert client.get("/debug/nothing").status_code == 404


def test_tasks_dump_the_trio_task_tree(kernel):
    dump = kernel.kubectl("get", "--raw", "/debug/tasks").stdout
    lines = dump.splitlines()
    assert not lines[0].startswith(" ")  # the root task, then its descendants indented
    assert lines[-1] == f"{len(lines) - 1} tasks"
    assert any(line.startswith("  ") for line in lines[1:-1])
    assert any("Cacher.run" in line for line in lines)  # the watch caches' tasks are listed


def test_non_masters_users_are_forbidden_under_always_deny(kernel, tmp_path):
    kubeconfig = kernel.kubeconfig
    jane = ["--token=jane-token", "--kubeconfig", kubeconfig]
    for args, verb, path in ((["get", "--raw", "/debug/tasks"], "get", "/debug/tasks"),
                             (["get", "--raw", "/debug/flags/v"], "get", "/debug/flags/v")):
        result = kernel.kubectl(*args, *jane, check=False)
        assert result.returncode != 0
        assert f'User "jane" cannot {verb} path "{path}"' in result.stderr
    with kernel.client(token="jane-token") as client:
        response = client.put("/debug/flags/v", content=b"5")
        assert response.status_code == 403
        assert response.json()["message"] == \
            'forbidden: User "jane" cannot put path "/debug/flags/v": Everything is forbidden.'
    with kernel.client(token=None) as anonymous:
        assert anonymous.get("/debug/tasks").status_code == 403
    with kernel.client() as admin:
        assert admin.get("/debug/flags/v").text == "0\n"  # unchanged by the refused PUT


async def test_task_tree_shows_nested_tasks():
    async def sleeper() -> None:
        await trio.sleep_forever()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(sleeper, name="outer-sleeper")
        await trio.sleep(0)
        dump = task_tree()
        nursery.cancel_scope.cancel()
    lines = dump.splitlines()
    sleeper_line = next(line for line in lines if line.strip() == "outer-sleeper")
    test_line = next(line for line in lines if "test_task_tree_shows_nested_tasks" in line)
    depth = lambda line: len(line) - len(line.lstrip())  # noqa: E731
    assert depth(sleeper_line) == depth(test_line) + 2
