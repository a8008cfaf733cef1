"""kube's tokens controller (pkg/controller/serviceaccount/tokens_controller.go), in-process.

A Secret of type ``kubernetes.io/service-account-token`` names its ServiceAccount in the
``kubernetes.io/service-account.name`` annotation. The controller fills in what it lacks —
``ca.crt`` (the serving CA), ``namespace`` and a legacy ``token`` — and records the account's
uid; a Secret whose account does not exist (or has another uid) is deleted, and so are an
account's token Secrets when the account is deleted. Writes go through the loopback client.
"""

from __future__ import annotations

import base64
import logging
import math
from typing import Any

import trio

from kernel.apimachinery import status

from kernel_authn_serviceaccount.tokens import LEGACY_ISSUER, TokenGenerator, make_username

log = logging.getLogger("kernel_authn_serviceaccount.tokens_controller")

SECRET_TYPE = "kubernetes.io/service-account-token"
NAME_ANNOTATION = "kubernetes.io/service-account.name"
UID_ANNOTATION = "kubernetes.io/service-account.uid"
USER_AGENT = "kernel/tokens-controller"
RETRY = 1.0

Object = dict[str, Any]


def legacy_claims(sa: Object, secret_name: str) -> dict[str, Any]:
    """kube's LegacyClaims: no audience, no expiry; the Secret and account by name."""
    meta = sa["metadata"]
    prefix = "kubernetes.io/serviceaccount/"
    return {"sub": make_username(meta["namespace"], meta["name"]),
            prefix + "namespace": meta["namespace"], prefix + "secret.name": secret_name,
            prefix + "service-account.name": meta["name"],
            prefix + "service-account.uid": meta.get("uid", "")}


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


class TokensController:
    def __init__(self, context: Any, generator: TokenGenerator, root_ca: str) -> None:
        self.secrets = context.informer("", "secrets")
        self.accounts = context.informer("", "serviceaccounts")
        self.client = context.loopback_client(USER_AGENT)
        self.generator = generator  # issuer kubernetes/serviceaccount, the signing key
        self.root_ca = root_ca
        self.send, self.receive = trio.open_memory_channel[tuple[str, str]](math.inf)

    def start(self) -> None:
        def on_secret(obj: Object) -> None:
            if obj.get("type") == SECRET_TYPE:
                self.send.send_nowait((obj["metadata"]["namespace"], obj["metadata"]["name"]))

        def on_account_deleted(obj: Object) -> None:
            namespace, name = obj["metadata"]["namespace"], obj["metadata"]["name"]
            for secret in self.secrets.list(namespace):
                if (secret.get("type") == SECRET_TYPE and
                        (secret["metadata"].get("annotations") or {}).get(NAME_ANNOTATION) == name):
                    self.send.send_nowait((namespace, secret["metadata"]["name"]))

        self.secrets.add_event_handler(on_add=on_secret, on_update=lambda old, new: on_secret(new))
        self.accounts.add_event_handler(on_delete=on_account_deleted)

    async def run(self) -> None:
        async for namespace, name in self.receive:
            try:
                await self.sync(namespace, name)
            except Exception:  # storage down, say: try again later
                log.exception("syncing secret %s/%s failed; retrying", namespace, name)
                await trio.sleep(RETRY)
                self.send.send_nowait((namespace, name))

    async def sync(self, namespace: str, name: str) -> None:
        secret = self.secrets.get(name, namespace)
        if secret is None or secret.get("type") != SECRET_TYPE:
            return
        meta = secret["metadata"]
        annotations = meta.get("annotations") or {}
        sa = await self._account(namespace, annotations.get(NAME_ANNOTATION, ""))
        wanted_uid = annotations.get(UID_ANNOTATION)
        if sa is None or (wanted_uid and sa["metadata"].get("uid") != wanted_uid):
            await self._delete(namespace, name, meta.get("uid", ""))
            return
        data = dict(secret.get("data") or {})
        needed = {"ca.crt": _b64(self.root_ca)} if self.root_ca and not data.get("ca.crt") else {}
        if not data.get("namespace"):
            needed["namespace"] = _b64(namespace)
        if not data.get("token"):
            needed["token"] = _b64(self.generator.generate(legacy_claims(sa, name)))
        if not needed and wanted_uid:
            return
        updated = {**secret, "data": {**data, **needed}, "metadata": {**meta, "annotations": {
            **annotations, NAME_ANNOTATION: sa["metadata"]["name"],
            UID_ANNOTATION: sa["metadata"].get("uid", "")}}}
        try:  # with the informer's resourceVersion: a newer Secret comes back as another event
            await self.client.update(f"/api/v1/namespaces/{namespace}/secrets/{name}", updated)
        except status.StatusError as error:
            if error.code not in (404, 409):
                raise

    async def _account(self, namespace: str, name: str) -> Object | None:
        """From the informer; on a miss a live read, as kube's fetchOnCacheMiss (an account
        created a moment before its Secret must not get that Secret deleted)."""
        sa = self.accounts.get(name, namespace) if name else None
        if sa is not None or not name:
            return sa
        try:
            return await self.client.get(f"/api/v1/namespaces/{namespace}/serviceaccounts/{name}")
        except status.StatusError as error:
            if error.code == 404:
                return None
            raise

    async def _delete(self, namespace: str, name: str, uid: str) -> None:
        try:
            await self.client.delete(f"/api/v1/namespaces/{namespace}/secrets/{name}",
                                     {"preconditions": {"uid": uid}} if uid else None)
        except status.StatusError as error:
            if error.code not in (404, 409):
                raise


def legacy_generator(keys: Any) -> TokenGenerator:
    return TokenGenerator(LEGACY_ISSUER, keys)
