"""The AlwaysAllow and AlwaysDeny authorization modes."""

from __future__ import annotations

from kernel import hookimpl
from kernel.authorization import Attributes, Decision


class AlwaysAllow:
    async def authorize(self, attributes: Attributes) -> tuple[Decision, str]:
        return Decision.ALLOW, ""


class AlwaysDeny:
    async def authorize(self, attributes: Attributes) -> tuple[Decision, str]:
        return Decision.NO_OPINION, "Everything is forbidden."


def _allow(context) -> AlwaysAllow:
    return AlwaysAllow()


def _deny(context) -> AlwaysDeny:
    return AlwaysDeny()


@hookimpl
def kernel_authorizers():
    return {"AlwaysAllow": _allow, "AlwaysDeny": _deny}
