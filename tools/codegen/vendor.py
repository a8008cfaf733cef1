"""Copy the generator's inputs from a Kubernetes source tree into api/upstream/ (gzipped).

Run by hand when moving to a new Kubernetes release; CI never does (it has no network and no
tree). The tree is read from a git directory, so nothing is checked out:

    python -m tools.codegen.vendor --git-dir /work/.mirror/openshift+microshift/repo \
        --prefix deps/github.com/openshift/kubernetes/ [--rev HEAD]
"""

from __future__ import annotations

import argparse
import gzip
import json
import subprocess
from pathlib import Path

from .groups import APIMACHINERY, GROUPS

#: kube's RBAC bootstrap policy as data: the YAML its policy tests record, read by api_rbac at
#: runtime (so it goes into that plugin's package, not api/upstream/). It is written as JSON, so
#: a server reads it without PyYAML.
BOOTSTRAP_POLICY_DIR = "plugin/pkg/auth/authorizer/rbac/bootstrappolicy/testdata"
BOOTSTRAP_POLICY = ("cluster-roles", "cluster-role-bindings", "controller-roles",
                    "controller-role-bindings", "namespace-roles", "namespace-role-bindings")

#: Go files beside types.go whose structs are appended to it (one vendored types.go per package).
EXTRA_GO_SOURCES = ("types_jsonschema.go",)

GNOSTIC = "github.com/google/gnostic-models"

ROOT = Path(__file__).resolve().parents[2]
UPSTREAM = ROOT / "api" / "upstream"
BOOTSTRAP_POLICY_OUT = ROOT / "plugins" / "api_rbac" / "kernel_api_rbac" / "bootstrap"


def _show(git_dir: str, rev: str, path: str) -> bytes:
    return subprocess.run(["git", "--git-dir", git_dir, "show", f"{rev}:{path}"],
                          check=True, capture_output=True).stdout


def _write(dest: Path, data: bytes) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    # mtime 0 and no file name: the same input gives the same bytes
    dest.write_bytes(gzip.compress(data, compresslevel=9, mtime=0))


def policy_json(text: bytes) -> bytes:
    """A bootstrap policy file (a YAML ``List``) as JSON: the same document, keys in their order,
    one item per line so that a change of release diffs by role (after ``zcat``)."""
    import yaml  # the tool's own dependency (the test extras); the server reads the JSON

    def compact(value: object) -> str:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))

    fields = [f"{compact(key)}:[\n" + ",\n".join(map(compact, value)) + "\n]" if key == "items"
              else f"{compact(key)}:{compact(value)}" for key, value in yaml.safe_load(text).items()]
    return ("{" + ",".join(fields) + "}\n").encode()


def vendor(git_dir: str, prefix: str, rev: str) -> None:
    for gv in GROUPS:
        _write(UPSTREAM / "openapi-spec" / "v3" / (gv.openapi + ".gz"),
               _show(git_dir, rev, f"{prefix}api/openapi-spec/v3/{gv.openapi}"))
    packages = [gv.go_package for gv in GROUPS] + list(APIMACHINERY)
    for package in packages:
        source = prefix + "staging/src/" + package
        _write(UPSTREAM / "proto" / package / "generated.proto.gz",
               _show(git_dir, rev, source + "/generated.proto"))
        try:
            go = _show(git_dir, rev, source + "/types.go")
        except subprocess.CalledProcessError:
            continue  # runtime/schema has no types.go (and no struct the catalogue uses)
        for extra in EXTRA_GO_SOURCES:  # apiextensions keeps JSONSchemaProps apart
            try:
                go += b"\n" + _show(git_dir, rev, f"{source}/{extra}")
            except subprocess.CalledProcessError:
                pass
        _write(UPSTREAM / "go" / package / "types.go.gz", go)
    for name in BOOTSTRAP_POLICY:
        _write(BOOTSTRAP_POLICY_OUT / f"{name}.json.gz",
               policy_json(_show(git_dir, rev, f"{prefix}{BOOTSTRAP_POLICY_DIR}/{name}.yaml")))
    (UPSTREAM / "LICENSE").write_bytes(_show(git_dir, rev, prefix + "LICENSE"))
    # gnostic's OpenAPI v2 messages (the /openapi/v2 protobuf form), read by its crosscheck test
    gnostic = f"{prefix}vendor/{GNOSTIC}"
    _write(UPSTREAM / "proto" / GNOSTIC / "openapiv2" / "OpenAPIv2.proto.gz",
           _show(git_dir, rev, f"{gnostic}/openapiv2/OpenAPIv2.proto"))
    (UPSTREAM / "proto" / GNOSTIC / "LICENSE").write_bytes(_show(git_dir, rev, f"{gnostic}/LICENSE"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--git-dir", required=True)
    parser.add_argument("--prefix", default="", help="the Kubernetes tree's path in the repository")
    parser.add_argument("--rev", default="HEAD")
    args = parser.parse_args()
    vendor(args.git_dir, args.prefix, args.rev)


if __name__ == "__main__":
    main()
