"""Request logs (kube's httplog at -v=2, text and json), the -v / --logging-format flags, and
the Audit-Id every response carries (HTTP/1.1 and HTTP/2, error answers included)."""

from __future__ import annotations

import json
import re
import uuid

import pytest
from conftest import run_kernel

from kernel.server import options as opts

CORE = "--plugins=api_core,storage_memory"
AGENT = "obs-test/1.0"
# klog text: I0102 15:04:05.123456 kernel.httplog] "HTTP" verb="LIST" URI="..." ... resp=200
TEXT_LINE = re.compile(
    r'^I\d{4} \d\d:\d\d:\d\d\.\d{6} kernel\.httplog\] "HTTP" verb="(?P<verb>[A-Z]+)" '
    r'URI="(?P<uri>[^"]*)" latency="(?P<latency>[0-9.]+(?:ns|µs|ms|s))" user="(?P<user>[^"]*)" '
    r'userAgent="(?P<agent>[^"]*)" audit-ID="(?P<audit>[^"]*)" '
    r'srcIP="(?P<src>127\.0\.0\.1:\d+)" resp=(?P<resp>\d+)$', re.M)


def _requests(kernel) -> None:
    with kernel.client() as client:
        client.headers["User-Agent"] = AGENT
        assert client.get("/api/v1/namespaces/default/configmaps?limit=5",
                          headers={"Audit-ID": "client-chosen-id"}).status_code == 200
        assert client.post("/api/v1/namespaces/default/configmaps",
                           json={"metadata": {"name": "logged"}}).status_code == 201
    with kernel.client(token="not-a-token") as client:
        client.headers["User-Agent"] = AGENT
        assert client.get("/api/v1/namespaces").status_code == 401


def test_text_request_log_at_v2(kernel_process):
    kernel = kernel_process("-v=2", CORE)
    _requests(kernel)
    assert kernel.stop() == 0
    lines = {(m["verb"], m["uri"]): m for m in TEXT_LINE.finditer(kernel.log())
             if m["agent"] == AGENT}
    listed = lines[("LIST", "/api/v1/namespaces/default/configmaps?limit=5")]
    assert (listed["user"], listed["audit"], listed["resp"]) == \
        ("system:apiserver", "client-chosen-id", "200")
    created = lines[("POST", "/api/v1/namespaces/default/configmaps")]
    assert created["resp"] == "201" and uuid.UUID(created["audit"]).version == 4
    refused = lines[("LIST", "/api/v1/namespaces")]
    assert (refused["user"], refused["resp"]) == ("", "401")
    assert "Serving securely on" in kernel.log()  # startup lines still there


def test_json_request_log_and_no_request_lines_at_v0(kernel_process, tmp_path):
    kernel = kernel_process("--v", "2", "--logging-format=json", CORE)
    _requests(kernel)
    assert kernel.stop() == 0
    entries = [json.loads(line) for line in kernel.log().splitlines()]  # every line is JSON
    http = [e for e in entries if e["msg"] == "HTTP" and e["userAgent"] == AGENT]
    assert [(e["verb"], e["URI"], e["resp"]) for e in http] == [
        ("LIST", "/api/v1/namespaces/default/configmaps?limit=5", 200),
        ("POST", "/api/v1/namespaces/default/configmaps", 201),
        ("LIST", "/api/v1/namespaces", 401)]
    first = http[0]
    assert first["v"] == 2 and first["audit-ID"] == "client-chosen-id"
    assert first["user"] == "system:apiserver" and first["srcIP"].startswith("127.0.0.1:")
    assert re.fullmatch(r"[0-9.]+(ns|µs|ms|s)", first["latency"])
    assert isinstance(first["ts"], float) and first["caller"].startswith("httplog.py:")
    assert any(e["msg"].startswith("Serving securely on") and e["v"] == 0 for e in entries)

    quiet = kernel_process(CORE)  # -v=0: startup lines only
    _requests(quiet)
    assert quiet.stop() == 0
    assert "Serving securely on" in quiet.log() and '"HTTP"' not in quiet.log()


@pytest.mark.parametrize("argv, level", [
    (["-v=2"], 2), (["-v", "3"], 3), (["--v=4"], 4), (["--v", "1"], 1), (["-v5"], 5), ([], 0)])
def test_v_flag_spellings(argv, level):
    option_set = opts.OptionSet()
    opts.add_server_run_options(option_set)
    result = opts.parse(option_set, argv)
    assert (result.options.v, result.errors, result.unknown) == (level, [], [])


def test_bad_logging_flags_are_reported_together():
    result = run_kernel("serve", "--plugins=", "-v", "--logging-format=xml", "--secure-port")
    assert result.returncode == 1
    assert result.stderr.splitlines()[1:] == [
        "  flag needs an argument: --secure-port",
        "  flag needs an argument: --v",
        '  --logging-format: Unsupported value: "xml": supported values: "json", "text"',
    ]
    result = run_kernel("serve", "--plugins=", "--v=-1")
    assert result.returncode == 1 and 'invalid argument "-1" for "--v" flag' in result.stderr


# --- Audit-Id --------------------------------------------------------------------------------

def _generated(response) -> str:
    audit_id = response.headers["audit-id"]
    assert uuid.UUID(audit_id).version == 4, audit_id
    return audit_id


@pytest.mark.parametrize("http2", [False, True])
async def test_audit_id_generated_or_echoed_on_every_answer(kernel_in_process, http2):
    kernel = await kernel_in_process("--anonymous-auth=false")
    async with kernel.client(http2=http2) as client:
        first, second = await client.get("/version"), await client.get("/version")
        assert first.http_version == ("HTTP/2" if http2 else "HTTP/1.1")
        assert _generated(first) != _generated(second)
        echoed = await client.get("/version", headers={"Audit-ID": "trace-42"})
        assert echoed.headers.get_list("audit-id") == ["trace-42"]
        missing = await client.get("/no/such/path")
        assert missing.status_code == 404
        _generated(missing)
        assert (await client.post("/version")).status_code == 405
    async with kernel.client(token=None, http2=http2) as anonymous:
        refused = await anonymous.get("/version", headers={"audit-id": "who-am-i"})
        assert refused.status_code == 401 and refused.headers["audit-id"] == "who-am-i"
        _generated(await anonymous.get("/version"))


async def test_audit_id_on_forbidden(kernel_in_process):
    kernel = await kernel_in_process("--authorization-mode=AlwaysDeny")
    async with kernel.client(token=None, http2=True) as client:
        response = await client.get("/metrics")
        assert response.status_code == 403
        _generated(response)
