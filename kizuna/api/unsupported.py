"""Nakama REST methods this server does not serve yet: each answers 501 code 12 naming what is
missing, rather than the 404 of an unknown path, so a client (and its developer) can tell "not
here yet" from "wrong URL". They are Endpoints like any other, so hooks run on them too.

- In-app purchases and subscriptions: validating receipts needs the stores' servers and keys.
- Listing parties (`GET /v2/party`): not built yet (parties themselves are served over the
  socket: kizuna/realtime/parties.py).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from kizuna.api.codec import read_json
from kizuna.api.endpoint import Auth, Call, Endpoint, add, no_body
from kizuna.errors import Code, KizunaError


def _refuse(what: str):
    async def handle(call: Call, req: dict[str, Any]) -> dict[str, Any]:
        raise KizunaError(Code.UNIMPLEMENTED, f"{what} are not supported by this server yet.")
    return handle


async def _body(request: web.Request) -> dict[str, Any]:
    return await read_json(request)


async def _query(request: web.Request) -> dict[str, Any]:
    return {k: request.query.getall(k) for k in request.query}


_IAP = _refuse("In-app purchases")  # the same messages as nk's (runtime/nk/purchases.py)
_SUBSCRIPTIONS = _refuse("Subscriptions")

ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint("POST", "/v2/iap/purchase/apple", "ValidatePurchaseApple", Auth.SESSION, _body, _IAP),
    Endpoint("POST", "/v2/iap/purchase/google", "ValidatePurchaseGoogle", Auth.SESSION, _body,
             _IAP),
    Endpoint("POST", "/v2/iap/purchase/huawei", "ValidatePurchaseHuawei", Auth.SESSION, _body,
             _IAP),
    Endpoint("POST", "/v2/iap/purchase/facebookinstant", "ValidatePurchaseFacebookInstant",
             Auth.SESSION, _body, _IAP),
    Endpoint("POST", "/v2/iap/purchase/samsung", "ValidatePurchaseSamsung", Auth.SESSION, _body,
             _IAP),
    Endpoint("POST", "/v2/iap/subscription/apple", "ValidateSubscriptionApple", Auth.SESSION,
             _body, _SUBSCRIPTIONS),
    Endpoint("POST", "/v2/iap/subscription/google", "ValidateSubscriptionGoogle", Auth.SESSION,
             _body, _SUBSCRIPTIONS),
    Endpoint("POST", "/v2/iap/subscription", "ListSubscriptions", Auth.SESSION, _body,
             _SUBSCRIPTIONS),
    Endpoint("GET", "/v2/iap/subscription/{product_id}", "GetSubscription", Auth.SESSION,
             no_body, _SUBSCRIPTIONS),
    Endpoint("GET", "/v2/party", "ListParties", Auth.SESSION, _query, _refuse("Parties")),
)


def register(app: web.Application) -> None:
    for e in ENDPOINTS:
        add(app, e)
