"""kubectl with a client-certificate or token kubeconfig, each in its own HOME and KUBECACHEDIR."""

from __future__ import annotations

import json
import os
import ssl
import subprocess
from pathlib import Path

import httpx

KUBECTL = "/usr/bin/kubectl"


def write_kubeconfig(path: Path, server: str, ca_file: str, *, token: str = "",
                     cert: tuple[str, str] | None = None) -> str:
    user: dict = {}
    if token:
        user["token"] = token
    if cert:
        user["client-certificate"], user["client-key"] = cert
    config = {"apiVersion": "v1", "kind": "Config", "current-context": "c",
              "clusters": [{"name": "c", "cluster": {"server": server, "certificate-authority": ca_file}}],
              "users": [{"name": "u", "user": user}],
              "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}]}
    path.write_text(json.dumps(config))
    return str(path)


def kubectl(kubeconfig: str, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    home.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "HOME": str(home), "KUBECACHEDIR": str(home / "cache")}
    return subprocess.run([KUBECTL, "--kubeconfig", kubeconfig, *args], capture_output=True,
                          text=True, env=env, timeout=60)


def whoami(kubeconfig: str, home: Path) -> dict:
    result = kubectl(kubeconfig, home, "auth", "whoami", "-o", "json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)["status"]["userInfo"]


def tls_client(url: str, ca_file: str, cert: tuple[str, str] | None = None,
               token: str | None = None) -> httpx.Client:
    context = ssl.create_default_context(cafile=ca_file)
    if cert:
        context.load_cert_chain(*cert)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=url, verify=context, headers=headers, timeout=10)


def review_user(client: httpx.Client) -> httpx.Response:
    return client.post("/apis/authentication.k8s.io/v1/selfsubjectreviews",
                       json={"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"})
