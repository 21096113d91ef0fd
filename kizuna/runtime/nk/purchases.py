"""nk: in-app purchases and subscriptions. Validating a receipt needs the store's servers and keys
(Apple, Google, Huawei, Facebook Instant Games, Samsung), which this server does not talk to yet:
every call answers the same "not supported" error (code 12, UNIMPLEMENTED) as the REST routes,
so a module written for Nakama fails clearly instead of pretending a purchase was checked."""

from __future__ import annotations

from typing import Any

from kizuna.errors import Code, KizunaError
from kizuna.runtime.nk.base import Area, api

PURCHASES = "In-app purchases are not supported by this server yet."
SUBSCRIPTIONS = "Subscriptions are not supported by this server yet."


def _refuse(message: str) -> KizunaError:
    return KizunaError(Code.UNIMPLEMENTED, message)


class PurchasesNk(Area):

    @api
    async def purchase_validate_apple(self, *args: Any, **kwargs: Any) -> None:
        """Not supported yet: raises Error(code 12)."""
        raise _refuse(PURCHASES)

    @api
    async def purchase_validate_google(self, *args: Any, **kwargs: Any) -> None:
        """Not supported yet: raises Error(code 12)."""
        raise _refuse(PURCHASES)

    @api
    async def purchase_validate_huawei(self, *args: Any, **kwargs: Any) -> None:
        """Not supported yet: raises Error(code 12)."""
        raise _refuse(PURCHASES)

    @api
    async def purchase_validate_facebook_instant(self, *args: Any, **kwargs: Any) -> None:
        """Not supported yet: raises Error(code 12)."""
        raise _refuse(PURCHASES)

    @api
    async def purchase_validate_samsung(self, *args: Any, **kwargs: Any) -> None:
        """Not supported yet: raises Error(code 12)."""
        raise _refuse(PURCHASES)

    @api
    async def purchase_get_by_transaction_id(self, *args: Any, **kwargs: Any) -> None:
        """Not supported yet: raises Error(code 12)."""
        raise _refuse(PURCHASES)

    @api
    async def purchases_list(self, *args: Any, **kwargs: Any) -> None:
        """Not supported yet: raises Error(code 12)."""
        raise _refuse(PURCHASES)

    @api
    async def subscription_validate_apple(self, *args: Any, **kwargs: Any) -> None:
        """Not supported yet: raises Error(code 12)."""
        raise _refuse(SUBSCRIPTIONS)

    @api
    async def subscription_validate_google(self, *args: Any, **kwargs: Any) -> None:
        """Not supported yet: raises Error(code 12)."""
        raise _refuse(SUBSCRIPTIONS)

    @api
    async def subscription_get_by_product_id(self, *args: Any, **kwargs: Any) -> None:
        """Not supported yet: raises Error(code 12)."""
        raise _refuse(SUBSCRIPTIONS)

    @api
    async def subscriptions_list(self, *args: Any, **kwargs: Any) -> None:
        """Not supported yet: raises Error(code 12)."""
        raise _refuse(SUBSCRIPTIONS)
