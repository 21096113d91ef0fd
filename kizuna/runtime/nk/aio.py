"""`nk.aio`: every nk call that waits for something, as a coroutine, one area per class."""

from __future__ import annotations

from kizuna.runtime.nk.accounts import AccountsNk
from kizuna.runtime.nk.auth import AuthNk
from kizuna.runtime.nk.chat import ChatNk
from kizuna.runtime.nk.friends import FriendsNk
from kizuna.runtime.nk.groups import GroupsNk
from kizuna.runtime.nk.leaderboards import LeaderboardsNk
from kizuna.runtime.nk.matches import MatchesNk
from kizuna.runtime.nk.multi import MultiNk
from kizuna.runtime.nk.notifications import NotificationsNk
from kizuna.runtime.nk.purchases import PurchasesNk
from kizuna.runtime.nk.sessions import SessionsNk
from kizuna.runtime.nk.storage import StorageNk
from kizuna.runtime.nk.streams import StreamsNk
from kizuna.runtime.nk.tournaments import TournamentsNk
from kizuna.runtime.nk.users import UsersNk
from kizuna.runtime.nk.utility import OutboundNk
from kizuna.runtime.nk.wallet import WalletNk


class AsyncNk(AccountsNk, UsersNk, AuthNk, SessionsNk, StorageNk, NotificationsNk, ChatNk,
              FriendsNk, GroupsNk, WalletNk, LeaderboardsNk, TournamentsNk, OutboundNk,
              StreamsNk, MatchesNk, MultiNk, PurchasesNk):
    """`nk.aio`: every nk call that waits for something, as a coroutine (for `async def`).

    A new area is a class of `@api` coroutine methods (see base.py) added to the bases here;
    `Nk` gets the blocking twin of each of its public coroutine methods by itself."""
