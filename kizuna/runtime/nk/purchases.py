"""nk: in-app purchases and subscriptions. Validating a receipt needs the store's servers and keys
(Apple, Google, Huawei, Facebook Instant Games, Samsung), which this server does not talk to yet:
every call answers the same "not supported" error (code 12, UNIMPLEMENTED) as the REST routes,
so a module written for Nakama fails clearly instead of pretending a purchase was checked."""

from __future__ import annotations

from typing import Any

from kizuna.errors import Code, KizunaError
from kizuna.runtime.nk.base import Area, api
from kizuna.runtime.shapes import (
    PurchaseList,
    SubscriptionList,
    ValidatedPurchase,
    ValidatedSubscription,
    ValidatePurchaseResponse,
    ValidateSubscriptionResponse,
)

PURCHASES = "In-app purchases are not supported by this server yet."
SUBSCRIPTIONS = "Subscriptions are not supported by this server yet."


def _refuse(message: str) -> KizunaError:
    return KizunaError(Code.UNIMPLEMENTED, message)


class PurchasesNk(Area):

    @api
    async def purchase_validate_apple(self, *args: Any, **kwargs: Any) -> ValidatePurchaseResponse:
        """Validate an Apple App Store receipt. Nakama's arguments: `user_id, receipt, persist=True,
        password_override=None`; the result will be a `ValidatePurchaseResponse`.
        Not supported yet: every call raises code 12.

        Errors:
            - 12 UNIMPLEMENTED `In-app purchases are not supported by this server yet.`

        Example:
            result = nk.purchase_validate_apple(ctx.user_id, receipt, True)
        """
        raise _refuse(PURCHASES)

    @api
    async def purchase_validate_google(self, *args: Any, **kwargs: Any) -> ValidatePurchaseResponse:
        """Validate a Google Play purchase. Nakama's arguments: `user_id, receipt, persist=True,
        client_email_override=None, private_key_override=None`.
        Not supported yet: every call raises code 12.

        Errors:
            - 12 UNIMPLEMENTED `In-app purchases are not supported by this server yet.`

        Example:
            result = nk.purchase_validate_google(ctx.user_id, receipt, True)
        """
        raise _refuse(PURCHASES)

    @api
    async def purchase_validate_huawei(self, *args: Any, **kwargs: Any) -> ValidatePurchaseResponse:
        """Validate a Huawei AppGallery purchase. Nakama's arguments: `user_id, receipt, signature,
        persist=True`.
        Not supported yet: every call raises code 12.

        Errors:
            - 12 UNIMPLEMENTED `In-app purchases are not supported by this server yet.`

        Example:
            result = nk.purchase_validate_huawei(ctx.user_id, receipt, signature, True)
        """
        raise _refuse(PURCHASES)

    @api
    async def purchase_validate_facebook_instant(self, *args: Any, **kwargs: Any) -> ValidatePurchaseResponse:
        """Validate a Facebook Instant Games purchase. Nakama's arguments: `user_id, signed_request,
        persist=True`.
        Not supported yet: every call raises code 12.

        Errors:
            - 12 UNIMPLEMENTED `In-app purchases are not supported by this server yet.`

        Example:
            result = nk.purchase_validate_facebook_instant(ctx.user_id, signed_request, True)
        """
        raise _refuse(PURCHASES)

    @api
    async def purchase_validate_samsung(self, *args: Any, **kwargs: Any) -> ValidatePurchaseResponse:
        """Validate a Samsung Galaxy Store purchase. Arguments: `user_id, receipt, persist=True`.
        Not supported yet: every call raises code 12.

        Errors:
            - 12 UNIMPLEMENTED `In-app purchases are not supported by this server yet.`

        Example:
            result = nk.purchase_validate_samsung(ctx.user_id, receipt, True)
        """
        raise _refuse(PURCHASES)

    @api
    async def purchase_get_by_transaction_id(self, *args: Any, **kwargs: Any) -> ValidatedPurchase:
        """A stored purchase by its transaction id. Nakama's arguments: `transaction_id`.
        Not supported yet: every call raises code 12.

        Errors:
            - 12 UNIMPLEMENTED `In-app purchases are not supported by this server yet.`

        Example:
            purchase = nk.purchase_get_by_transaction_id(transaction_id)
        """
        raise _refuse(PURCHASES)

    @api
    async def purchases_list(self, *args: Any, **kwargs: Any) -> PurchaseList:
        """A page of stored purchases. Nakama's arguments: `user_id=None, limit=100, cursor=None`.
        Not supported yet: every call raises code 12.

        Errors:
            - 12 UNIMPLEMENTED `In-app purchases are not supported by this server yet.`

        Example:
            page = nk.purchases_list(ctx.user_id, 10)
        """
        raise _refuse(PURCHASES)

    @api
    async def subscription_validate_apple(self, *args: Any, **kwargs: Any) -> ValidateSubscriptionResponse:
        """Validate an Apple subscription receipt. Nakama's arguments: `user_id, receipt,
        persist=True, password_override=None`.
        Not supported yet: every call raises code 12.

        Errors:
            - 12 UNIMPLEMENTED `Subscriptions are not supported by this server yet.`

        Example:
            result = nk.subscription_validate_apple(ctx.user_id, receipt, True)
        """
        raise _refuse(SUBSCRIPTIONS)

    @api
    async def subscription_validate_google(self, *args: Any, **kwargs: Any) -> ValidateSubscriptionResponse:
        """Validate a Google Play subscription. Nakama's arguments: `user_id, receipt, persist=True,
        client_email_override=None, private_key_override=None`.
        Not supported yet: every call raises code 12.

        Errors:
            - 12 UNIMPLEMENTED `Subscriptions are not supported by this server yet.`

        Example:
            result = nk.subscription_validate_google(ctx.user_id, receipt, True)
        """
        raise _refuse(SUBSCRIPTIONS)

    @api
    async def subscription_get_by_product_id(self, *args: Any, **kwargs: Any) -> ValidatedSubscription:
        """A user's stored subscription to a product. Nakama's arguments: `user_id, product_id`.
        Not supported yet: every call raises code 12.

        Errors:
            - 12 UNIMPLEMENTED `Subscriptions are not supported by this server yet.`

        Example:
            subscription = nk.subscription_get_by_product_id(ctx.user_id, "vip_monthly")
        """
        raise _refuse(SUBSCRIPTIONS)

    @api
    async def subscriptions_list(self, *args: Any, **kwargs: Any) -> SubscriptionList:
        """A page of stored subscriptions. Nakama's arguments: `user_id=None, limit=100,
        cursor=None`.
        Not supported yet: every call raises code 12.

        Errors:
            - 12 UNIMPLEMENTED `Subscriptions are not supported by this server yet.`

        Example:
            page = nk.subscriptions_list(ctx.user_id, 10)
        """
        raise _refuse(SUBSCRIPTIONS)
