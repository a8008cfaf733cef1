"""kernel.distributions finds the entry points, names and versions importlib.metadata finds, and
``import kernel.cli`` imports neither importlib.metadata nor the email/zipfile/csv it brings."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from kernel import distributions
from kernel.plugins import GROUP

ENTRY_POINTS = """# a comment
[console_scripts]
demo-tool = demo_pkg.cli:main

[kernel.plugins]
demo_plain = demo_pkg
 demo_attr = demo_pkg.sub:Holder.plugin [extra1, extra2]
demo_spaced=demo_pkg:VALUE

[other.group]
demo_other = demo_pkg:VALUE
"""
METADATA = """Metadata-Version: 2.1
Name: Demo.Pkg
Version: 2.3.4
Summary: a summary
  folded onto a second line
Name: not-this-one

Body text.
Version: 9.9.9
"""


def _dist(root: Path, stem: str, entry_points: str = ENTRY_POINTS, metadata: str = METADATA) -> None:
    info = root / f"{stem}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(metadata)
    (info / "entry_points.txt").write_text(entry_points)


def _package(root: Path) -> None:
    package = root / "demo_pkg"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("VALUE = 42\n")
    (package / "sub" / "__init__.py").write_text("class Holder:\n    plugin = 'found'\n")


def _ours(group: str) -> list[tuple[str, str, str, str, str]]:
    return [(ep.name, ep.value, ep.group, ep.dist.metadata["Name"], ep.dist.metadata["Version"])
            for ep in distributions.entry_points(group)]


def _theirs(group: str) -> list[tuple[str, str, str, str, str]]:
    return [(ep.name, ep.value, ep.group, ep.dist.metadata["Name"], ep.dist.metadata["Version"])
            for ep in importlib.metadata.entry_points(group=group)]


def test_this_environments_plugins_are_importlib_metadatas() -> None:
    assert _ours(GROUP) == _theirs(GROUP)
    assert len(_ours(GROUP)) >= 3  # the built-ins at least
    assert distributions.version("kernel") == importlib.metadata.version("kernel")
    assert distributions.version("no-such-distribution-here") is None


def test_entry_points_file_and_metadata_as_importlib_reads_them(tmp_path, monkeypatch) -> None:
    _dist(tmp_path, "Demo.Pkg-2.3.4")
    _package(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    ours = [row for row in _ours(GROUP) if row[0].startswith("demo")]
    assert ours == [row for row in _theirs(GROUP) if row[0].startswith("demo")]
    assert [row[:2] for row in ours] == [("demo_plain", "demo_pkg"),
                                         ("demo_attr", "demo_pkg.sub:Holder.plugin [extra1, extra2]"),
                                         ("demo_spaced", "demo_pkg:VALUE")]
    assert ours[0][3:] == ("Demo.Pkg", "2.3.4")  # the first header, never the body
    assert _ours("other.group") == _theirs("other.group")
    loaded = {ep.name: ep.load() for ep in distributions.entry_points(GROUP) if ep.name.startswith("demo")}
    assert loaded["demo_plain"].VALUE == 42
    assert loaded["demo_attr"] == "found" and loaded["demo_spaced"] == 42
    assert distributions.version("demo-pkg") == importlib.metadata.version("demo-pkg") == "2.3.4"


def test_a_distribution_found_again_further_down_the_path_is_ignored(tmp_path, monkeypatch) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    _dist(first, "demo_dup-1.0", "[kernel.plugins]\ndemo_dup = first_module\n",
          "Name: demo-dup\nVersion: 1.0\n")
    _dist(second, "demo_dup-2.0", "[kernel.plugins]\ndemo_dup = second_module\ndemo_only2 = x\n",
          "Name: demo-dup\nVersion: 2.0\n")
    monkeypatch.syspath_prepend(str(second))
    monkeypatch.syspath_prepend(str(first))
    ours = [row for row in _ours(GROUP) if row[0].startswith("demo")]
    assert ours == [row for row in _theirs(GROUP) if row[0].startswith("demo")]
    assert ours == [("demo_dup", "first_module", GROUP, "demo-dup", "1.0")]


def test_a_zip_archive_on_the_path_is_read_by_importlib_metadata(tmp_path, monkeypatch) -> None:
    archive = tmp_path / "bundle.zip"
    with zipfile.ZipFile(archive, "w") as out:
        out.writestr("demo_zipped-1.0.dist-info/METADATA", "Name: demo-zipped\nVersion: 1.0\n")
        out.writestr("demo_zipped-1.0.dist-info/entry_points.txt",
                     "[kernel.plugins]\ndemo_zipped = demo_zipped\n")
    monkeypatch.syspath_prepend(str(archive))
    ours = [row for row in _ours(GROUP) if row[0].startswith("demo")]
    assert ours == [("demo_zipped", "demo_zipped", GROUP, "demo-zipped", "1.0")]
    assert _ours(GROUP) == _theirs(GROUP)


def test_an_archive_without_distributions_is_not_handed_to_importlib(tmp_path) -> None:
    """A shiv bundle's .pyz is on sys.path but holds only its bootstrap."""
    archive = tmp_path / "kernel.pyz"
    with zipfile.ZipFile(archive, "w") as out:
        out.writestr("__main__.py", "")
        out.writestr("_bootstrap/__init__.py", "")
        out.writestr("site-packages/demo_inner-1.0.dist-info/METADATA", "Name: demo-inner\n")
    probe = ("import sys; from kernel import distributions; "
             f"sys.path.insert(0, {str(archive)!r}); "
             "eps = distributions.entry_points('kernel.plugins'); "
             "print(len(eps) >= 3, 'importlib.metadata' in sys.modules, "
             "any(ep.name.startswith('demo') for ep in eps))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True", "False", "False"], out.stderr


@pytest.mark.parametrize("module", ["kernel.cli"])
def test_the_server_imports_no_importlib_metadata(module: str) -> None:
    probe = (f"import sys, {module}; print(sorted(m for m in sys.modules if m.split('.')[0] in "
             "('email', 'zipfile', 'csv', 'prometheus_client') or m == 'importlib.metadata'))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout
