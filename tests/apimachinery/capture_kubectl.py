"""Capture the protobuf request bodies kubectl sends: tests/apimachinery/fixtures/kubectl_bodies.json.

Run ``python tests/apimachinery/capture_kubectl.py`` to refresh the fixture (test_protobuf.py
also runs it live when kubectl is installed). It serves, on loopback, just enough plain-HTTP
discovery for kubectl 1.32 to resolve the resources, records each POST body as hex (plus, for
``kubectl create``, the same object from ``--dry-run=client -o json``), and answers with an
object of roughly the right shape so that kubectl exits cleanly.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "kubectl_bodies.json"
ALL_VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]


def _resource(plural: str, singular: str, kind: str, group: str, version: str,
              namespaced: bool, verbs: list[str] = ALL_VERBS) -> dict[str, Any]:
    return {"resource": plural, "singularResource": singular,
            "responseKind": {"group": group, "version": version, "kind": kind},
            "scope": "Namespaced" if namespaced else "Cluster", "verbs": verbs}


GROUPS: dict[str, list[dict[str, Any]]] = {
    "": [_resource("namespaces", "namespace", "Namespace", "", "v1", False),
         _resource("configmaps", "configmap", "ConfigMap", "", "v1", True),
         _resource("secrets", "secret", "Secret", "", "v1", True),
         {**_resource("serviceaccounts", "serviceaccount", "ServiceAccount", "", "v1", True),
          "subresources": [{"subresource": "token", "verbs": ["create"], "responseKind": {
              "group": "authentication.k8s.io", "version": "v1", "kind": "TokenRequest"}}]},
         _resource("pods", "pod", "Pod", "", "v1", True)],
    "apps": [_resource("deployments", "deployment", "Deployment", "apps", "v1", True)],
    "authorization.k8s.io": [
        _resource("selfsubjectaccessreviews", "selfsubjectaccessreview", "SelfSubjectAccessReview",
                  "authorization.k8s.io", "v1", False, ["create"]),
        _resource("selfsubjectrulesreviews", "selfsubjectrulesreview", "SelfSubjectRulesReview",
                  "authorization.k8s.io", "v1", True, ["create"])],
    "authentication.k8s.io": [
        _resource("selfsubjectreviews", "selfsubjectreview", "SelfSubjectReview",
                  "authentication.k8s.io", "v1", False, ["create"]),
        _resource("tokenreviews", "tokenreview", "TokenReview",
                  "authentication.k8s.io", "v1", False, ["create"])],
}
AGG = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"


def _discovery(core: bool) -> dict[str, Any]:
    items = [{"metadata": {} if not g else {"name": g},
              "versions": [{"version": "v1", "freshness": "Current", "resources": rs}]}
             for g, rs in GROUPS.items() if (g == "") == core]
    return {"kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2",
            "metadata": {}, "items": items}


def _legacy_resources(group: str) -> dict[str, Any]:
    gv = f"{group}/v1" if group else "v1"
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv,
            "resources": [{"name": r["resource"], "singularName": r["singularResource"],
                           "namespaced": r["scope"] == "Namespaced",
                           "kind": r["responseKind"]["kind"], "verbs": r["verbs"]}
                          for r in GROUPS[group]]}


class Recorder(BaseHTTPRequestHandler):
    captured: list[dict[str, str]] = []

    def log_message(self, *args: Any) -> None:
        pass

    def _send(self, obj: Any, ctype: str = "application/json", code: int = 200) -> None:
        data = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        path = self.path.split("?")[0]
        if path == "/version":
            self._send({"major": "1", "minor": "32", "gitVersion": "v1.32.4"})
        elif path in ("/api", "/apis"):
            self._send(_discovery(path == "/api"), AGG)
        elif path == "/api/v1":
            self._send(_legacy_resources(""))
        elif path.startswith("/apis/") and path.count("/") == 3:
            self._send(_legacy_resources(path.split("/")[2]))
        else:
            self._send({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                        "reason": "NotFound", "code": 404}, code=404)

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.captured.append({"path": self.path, "contentType": self.headers.get("Content-Type", ""),
                              "hex": body.hex()})
        kind = self.path.split("?")[0].rstrip("/").rsplit("/", 1)[-1]
        reply: dict[str, Any] = {"metadata": {"name": "x"}}
        if "review" in kind or kind == "token":  # can-i / whoami / create token read status
            reply["status"] = {"allowed": True, "userInfo": {"username": "captured"},
                               "token": "t", "expirationTimestamp": "2030-01-01T00:00:00Z"}
        self._send(reply, code=201)


COMMANDS: dict[str, list[str]] = {
    "namespace": ["create", "namespace", "foo"],
    "configmap": ["create", "configmap", "x", "-n", "default", "--from-literal=a=b",
                  "--from-literal=c=d"],
    "secret": ["create", "secret", "generic", "s", "-n", "default", "--from-literal=k=v"],
    "serviceaccount": ["create", "serviceaccount", "sa", "-n", "default"],
    "deployment": ["create", "deployment", "web", "-n", "default", "--image=nginx:1.27",
                   "--port=80", "--replicas=2"],
    "deployment_command": ["create", "deployment", "job", "-n", "default", "--image=busybox",
                           "--", "sleep", "3600"],
    "configmap_binary": ["create", "configmap", "bin", "-n", "default", "--from-file=blob={blob}"],
    "secret_dockercfg": ["create", "secret", "docker-registry", "reg", "-n", "default",
                         "--docker-server=r.example", "--docker-username=u",
                         "--docker-password=p"],
    "tokenrequest": ["create", "token", "sa", "-n", "default", "--audience=api",
                     "--audience=vault", "--duration=10m"],
    "selfsubjectaccessreview": ["auth", "can-i", "get", "pods", "-n", "default"],
    "selfsubjectaccessreview_nonresource": ["auth", "can-i", "get", "/healthz"],
    "selfsubjectrulesreview": ["auth", "can-i", "--list", "-n", "default"],
    "selfsubjectreview": ["auth", "whoami"],
}


def capture(commands: dict[str, list[str]], kubectl: str = "kubectl") -> dict[str, Any]:
    """Run each kubectl command against a recording server; return what each one sent."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    out: dict[str, Any] = {}
    try:
        with tempfile.TemporaryDirectory() as home:
            env = dict(os.environ, HOME=home, KUBECACHEDIR=os.path.join(home, "cache"),
                       KUBECONFIG=os.path.join(home, "none"))
            blob = os.path.join(home, "blob")
            Path(blob).write_bytes(b"\xff\x00\xfebin")  # not UTF-8: lands in binaryData
            for name, args in commands.items():
                argv = [kubectl, f"--server={url}", *(a.replace("{blob}", blob) for a in args)]
                Recorder.captured.clear()
                proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
                if not Recorder.captured:
                    raise RuntimeError(f"{name}: kubectl sent nothing: {proc.stderr.strip()}")
                out[name] = {"command": "kubectl " + " ".join(args), **Recorder.captured[0]}
                if args[0] == "create" and args[1] != "token":
                    # The same object as kubectl prints it in JSON: what decoding must give.
                    dry_run = [*argv[:2], "--dry-run=client", "-o", "json", *argv[2:]]
                    dry = subprocess.run(dry_run, env=env, capture_output=True, text=True,
                                         timeout=60, check=True)
                    out[name]["json"] = json.loads(dry.stdout)
    finally:
        server.shutdown()
        server.server_close()
    return out


def main() -> int:
    FIXTURE.parent.mkdir(exist_ok=True)
    FIXTURE.write_text(json.dumps(capture(COMMANDS), indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
