"""The examples are tested as a third party ships them: installed (not editable) by .ci/run.

An example whose distribution is not installed (a plain ``pytest`` after scripts/install alone)
is left out of collection and named in the header, rather than failing on its imports.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, distribution

EXAMPLES = {"authn_apikey": "kernel-authn-apikey", "authz_allowlist": "kernel-authz-allowlist"}


def _installed(name: str) -> bool:
    try:
        distribution(name)
    except PackageNotFoundError:
        return False
    return True


missing = sorted(d for d, dist in EXAMPLES.items() if not _installed(dist))
collect_ignore = [f"{d}/tests" for d in missing]


def pytest_report_header() -> str | None:
    if missing:
        return ("examples not installed, their tests skipped (pip install ./examples/<name>): "
                + ", ".join(missing))
    return None
