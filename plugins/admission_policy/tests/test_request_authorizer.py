"""The ``authorizer`` values of one admission request stay valid for the whole evaluation.

CEL finds the request's authorizer through a weak handle; the values the request's Dispatch holds
must keep it alive. Before, they held only the handle, and a garbage collection during an
evaluation (the RequestAuthorizer is in a reference cycle: only the cyclic collector frees it)
turned every check into "no authorizer for this evaluation": a policy denied a user RBAC allows.
"""

from __future__ import annotations

import gc

import trio
from kernel_cel import DYN, Environment

from kernel.authorization import Decision
from kernel_admission_policy.authorizer import RequestAuthorizer

from test_dispatcher import attributes, configmap

ENV = Environment(variables={"object": DYN}, library="admission")


async def test_checks_answer_after_a_garbage_collection() -> None:
    asked = []

    async def authorize(request) -> tuple[Decision, str]:
        asked.append((request.verb, request.resource, request.namespace))
        return Decision.ALLOW, "allowed by a test"

    values = RequestAuthorizer(authorize, attributes(configmap())).values  # the object is dropped
    program = ENV.compile("authorizer.group('').resource('secrets').namespace('dev').check('get')"
                          ".allowed() && authorizer.requestResource.check('delete').allowed()",
                          result="bool")

    def evaluate() -> bool:
        gc.collect()  # what a collection at any point of the evaluation would do
        return program.eval(ENV.activation({"object": {}, **values}))

    assert await trio.to_thread.run_sync(evaluate) is True
    assert asked == [("get", "secrets", "dev"), ("delete", "configmaps", "dev")]
