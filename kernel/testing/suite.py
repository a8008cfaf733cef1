"""The base of the contract suites that start ``kernel serve``: what they all share.

Kept apart from :mod:`kernel.testing` because it needs pytest, which a plain user of
``start_kernel`` (a benchmark, an operator's tests) does not.
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest


class ContractSuite:
    """Async tests (pytest-trio), and the two fixtures a subclass overrides to configure the
    server the suite starts."""

    pytestmark = pytest.mark.trio
    #: The plugin's name for ``--plugins``.
    plugin = ""
    #: How many calls run at once in the concurrency tests.
    concurrency = 10

    @pytest.fixture
    def kernel_args(self) -> Sequence[str]:
        """Extra flags of ``kernel serve`` (the plugin's own configuration: a policy, a key file)."""
        return []

    @pytest.fixture
    def kernel_env(self) -> dict[str, str] | None:
        """The environment of ``kernel serve`` (override to put the plugin on PYTHONPATH)."""
        return None
