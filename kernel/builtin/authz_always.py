"""The AlwaysAllow and AlwaysDeny authorization modes."""

from __future__ import annotations

from kernel import hookimpl
from kernel.authentication.user import UserInfo
from kernel.authorization import ALL_RULES, Attributes, Decision, Rules


class AlwaysAllow:
    async def authorize(self, attributes: Attributes) -> tuple[Decision, str]:
        return Decision.ALLOW, ""

    async def rules_for(self, user: UserInfo, namespace: str) -> Rules:
        return ALL_RULES


class AlwaysDeny:
    async def authorize(self, attributes: Attributes) -> tuple[Decision, str]:
        return Decision.NO_OPINION, "Everything is forbidden."

    async def rules_for(self, user: UserInfo, namespace: str) -> Rules:
        return Rules()


def _allow(context) -> AlwaysAllow:
    return AlwaysAllow()


def _deny(context) -> AlwaysDeny:
    return AlwaysDeny()


@hookimpl
def kernel_authorizers():
    return {"AlwaysAllow": _allow, "AlwaysDeny": _deny}
