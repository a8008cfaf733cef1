"""storage_sqlite's ``sqlite`` check in /healthz, /livez and /readyz on a real server."""

from __future__ import annotations

from pathlib import Path

from kernel.testing import start_kernel


def test_the_sqlite_check_passes_then_fails_once_the_file_is_gone(tmp_path: Path) -> None:
    kernel = start_kernel(tmp_path, "--plugins=api_core,storage_sqlite")
    try:
        with kernel.client() as client:
            for path in ("/healthz", "/livez", "/readyz"):
                response = client.get(path, params={"verbose": "1"})
                assert response.status_code == 200, response.text
                assert "[+]sqlite ok" in response.text
            assert client.post("/api/v1/namespaces/default/configmaps", json={
                "metadata": {"name": "before"}}).status_code == 201
            databases = list(tmp_path.rglob("kernel.db"))
            assert len(databases) == 1
            databases[0].rename(databases[0].with_name("moved.db"))
            for path in ("/healthz", "/livez", "/readyz"):
                response = client.get(path, params={"verbose": "1"})
                assert response.status_code == 500, response.text
                assert "[-]sqlite failed: reason withheld" in response.text
            response = client.get("/readyz/sqlite")
            assert response.status_code == 500
            assert "was removed or replaced" in response.text
    finally:
        kernel.stop()
