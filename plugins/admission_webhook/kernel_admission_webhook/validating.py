"""ValidatingAdmissionWebhook: every matching validating webhook called at once (a trio nursery);
the first refusal to arrive is the request's, as kube reports the first error of its channel
(k8s.io/apiserver admission/plugin/webhook/validating)."""

from __future__ import annotations

import logging

import trio

from kernel.admission import Attributes, Operation, ValidatingAdmission
from kernel.admission.predicates import Match
from kernel.apimachinery import status
from kernel.apimachinery.status import StatusError

from kernel_admission_webhook.accessor import Hook
from kernel_admission_webhook.dispatcher import Dispatcher
from kernel_admission_webhook.errors import CallFailure, denied

log = logging.getLogger("kernel.admission.webhook")
FAILED_OPEN_PREFIX = "failed-open.validating.webhook.admission.k8s.io/"


class ValidatingWebhooks(ValidatingAdmission):
    def __init__(self, dispatcher: Dispatcher) -> None:
        self.dispatcher = dispatcher

    def handles(self, operation: Operation) -> bool:
        return True

    async def validate(self, attributes: Attributes) -> None:
        hooks = await self.dispatcher.hooks_for(attributes)
        if not hooks:
            return
        matcher = await self.dispatcher.matcher(attributes)
        relevant = [(hook, match) for hook in hooks
                    if (match := await self.dispatcher.should_call(matcher, hook, attributes)) is not None]
        if not relevant:
            return
        errors: list[StatusError] = []
        if len(relevant) == 1:  # no nursery for the common case of one webhook
            await self._one(relevant[0][0], relevant[0][1], 0, attributes, errors)
        else:
            async with trio.open_nursery() as nursery:
                for index, (hook, match) in enumerate(relevant):
                    nursery.start_soon(self._one, hook, match, index, attributes, errors)
        if errors:
            raise errors[0]

    async def _one(self, hook: Hook, match: Match, index: int, attributes: Attributes,
                   errors: list[StatusError]) -> None:
        try:
            response = await self.dispatcher.call(hook, match, attributes)
        except CallFailure as failure:
            if not hook.fail_closed:
                log.warning("Failed calling webhook, failing open %s: %s", hook.name, failure.message)
                attributes.add_annotation(f"{FAILED_OPEN_PREFIX}round_0_index_{index}", hook.name)
                return
            log.warning("Failed calling webhook, failing closed %s: %s", hook.name, failure.message)
            errors.append(status.internal_error(failure.message))
            return
        except StatusError as error:
            errors.append(error)
            return
        if not response.allowed:
            errors.append(denied(hook.name, response.result))
