"""MutatingAdmissionWebhook: the mutating webhooks, one after another, each seeing the object as
the previous ones left it; JSONPatch answers applied with the ``jsonpatch`` library; webhooks with
``reinvocationPolicy: IfNeeded`` called once more when a later one changed the object
(k8s.io/apiserver admission/plugin/webhook/mutating)."""

from __future__ import annotations

import logging
from collections.abc import Callable

import msgspec

from kernel.admission import Attributes, MutatingAdmission, Operation
from kernel.apimachinery import status

from kernel_admission_webhook.accessor import Hook
from kernel_admission_webhook.dispatcher import Dispatcher, mutation_annotation
from kernel_admission_webhook.errors import CallFailure, denied

log = logging.getLogger("kernel.admission.webhook")
MUTATION_PREFIX = "mutation.webhook.admission.k8s.io/"
FAILED_OPEN_PREFIX = "failed-open." + MUTATION_PREFIX


class Reinvocation(msgspec.Struct):
    """kube's webhookReinvokeContext for one request."""

    #: IfNeeded webhooks called since the last change
    invoked: set[str] = msgspec.field(default_factory=set)
    reinvoke: set[str] = msgspec.field(default_factory=set)
    needed: bool = False

    def changed(self) -> None:
        self.reinvoke |= self.invoked
        self.invoked = set()
        self.needed = True


def _apply(hook: Hook, attributes: Attributes, patch: bytes, patch_type: str) -> bool:
    """Apply a webhook's patch to ``attributes.object`` in place; whether it changed."""
    import jsonpatch  # with difflib and jsonpointer: by the first patch a webhook answers with

    try:
        operations = jsonpatch.JsonPatch.from_string(patch.decode("utf-8", "replace"))
    except (jsonpatch.JsonPatchException, ValueError) as error:
        raise CallFailure(f'failed calling webhook "{hook.name}": received undecodable patch in webhook '
                          f"response: {error}") from None
    if not operations.patch:
        return False
    if attributes.object is None:
        raise status.internal_error(f'admission webhook "{hook.name}" attempted to modify the object, '
                                    "which is not supported for this operation")
    if patch_type != "JSONPatch":
        raise CallFailure(f'failed calling webhook "{hook.name}": unsupported patch type "{patch_type}"')
    try:
        patched = operations.apply(attributes.object)
    except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException, TypeError, KeyError, IndexError) as error:
        raise status.internal_error(str(error)) from None
    if not isinstance(patched, dict):
        raise status.internal_error(f"the patch of admission webhook {hook.name!r} does not leave an object")
    if patched == attributes.object:
        return False
    attributes.object.clear()
    attributes.object.update(patched)
    return True


#: ``default(attributes)``: apply the resource's defaults to ``attributes.object`` in place.
Defaulter = Callable[[Attributes], None]


class MutatingWebhooks(MutatingAdmission):
    def __init__(self, dispatcher: Dispatcher, default: Defaulter | None = None) -> None:
        self.dispatcher = dispatcher
        self.default = default or (lambda attributes: None)

    def handles(self, operation: Operation) -> bool:
        return True

    async def admit(self, attributes: Attributes) -> None:
        hooks = await self.dispatcher.hooks_for(attributes)
        if not hooks:
            return
        state = Reinvocation()
        await self._round(hooks, attributes, state, 0)
        if state.needed:
            await self._round(hooks, attributes, state, 1)

    async def _round(self, hooks: list[Hook], attributes: Attributes, state: Reinvocation, round_: int) -> None:
        matcher = await self.dispatcher.matcher(attributes)
        for index, hook in enumerate(hooks):
            match = await self.dispatcher.should_call(matcher, hook, attributes)
            # a webhook skipped in the first round is not called for the first time in the second
            if match is None or (round_ and hook.uid not in state.reinvoke):
                continue
            changed, failure = False, None
            try:
                response = await self.dispatcher.call(hook, match, attributes)
                if not response.allowed:
                    raise denied(hook.name, response.result)
                changed = bool(response.patch) and _apply(hook, attributes, response.patch, response.patch_type)
                if changed:
                    self.default(attributes)
            except CallFailure as error:
                failure = error
            finally:
                attributes.add_annotation(f"{MUTATION_PREFIX}round_{round_}_index_{index}",
                                          mutation_annotation(hook, changed))
            if changed:
                state.changed()
            if hook.reinvocable:
                state.invoked.add(hook.uid)
            if failure is not None:
                if hook.fail_closed:
                    log.warning("Failed calling webhook, failing closed %s: %s", hook.name, failure.message)
                    raise status.internal_error(failure.message)
                log.warning("Failed calling webhook, failing open %s: %s", hook.name, failure.message)
                attributes.add_annotation(f"{FAILED_OPEN_PREFIX}round_{round_}_index_{index}", hook.name)
