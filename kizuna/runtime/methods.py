"""The names hooks are registered under: Nakama's API method names and realtime message names.

`register_before("AuthenticateDevice", fn)` names a REST method as Nakama's api.proto does; every
/v2 route of kizuna/api is declared with one of these names (kizuna/api/endpoint.py refuses a route
without one), so a hook can be registered for any endpoint, including ones this release does not
serve yet (the hook then simply never runs, and the load logs a warning).

Realtime messages are named like Nakama's envelope fields in CamelCase ("ChannelJoin",
"MatchDataSend"); "channel_join" is accepted too. `rpc` has no hooks (as Nakama).
"""

from __future__ import annotations

API_METHODS = frozenset("""
AddFriends AddGroupUsers AuthenticateApple AuthenticateCustom AuthenticateDevice AuthenticateEmail
AuthenticateFacebook AuthenticateFacebookInstantGame AuthenticateGameCenter AuthenticateGoogle
AuthenticateSteam BanGroupUsers BlockFriends CreateGroup DeleteAccount DeleteFriends DeleteGroup
DeleteLeaderboardRecord DeleteNotifications DeleteStorageObjects DeleteTournamentRecord
DemoteGroupUsers Event GetAccount GetMatchmakerStats GetSubscription GetUsers
ImportFacebookFriends ImportSteamFriends JoinGroup JoinTournament KickGroupUsers LeaveGroup
LinkApple LinkCustom LinkDevice LinkEmail LinkFacebook LinkFacebookInstantGame LinkGameCenter
LinkGoogle LinkSteam ListChannelMessages ListFriends ListFriendsOfFriends ListGroups
ListGroupUsers ListLeaderboardRecords ListLeaderboardRecordsAroundOwner ListMatches
ListNotifications ListParties ListStorageObjects ListSubscriptions ListTournamentRecords
ListTournamentRecordsAroundOwner ListTournaments ListUserGroups PromoteGroupUsers
ReadStorageObjects SessionLogout SessionRefresh UnlinkApple UnlinkCustom UnlinkDevice UnlinkEmail
UnlinkFacebook UnlinkFacebookInstantGame UnlinkGameCenter UnlinkGoogle UnlinkSteam UpdateAccount
UpdateGroup ValidatePurchaseApple ValidatePurchaseFacebookInstant ValidatePurchaseGoogle
ValidatePurchaseHuawei ValidatePurchaseSamsung ValidateSubscriptionApple
ValidateSubscriptionGoogle WriteLeaderboardRecord WriteStorageObjects WriteTournamentRecord
""".split())

_API_KEYS = {name.lower(): name for name in API_METHODS}

# Envelope kinds a client sends (kizuna/realtime/envelope.py KINDS), rpc excepted.
RT_MESSAGES = frozenset("""
channel_join channel_leave channel_message_send channel_message_update channel_message_remove
match_create match_data_send match_join match_leave matchmaker_add matchmaker_remove
party_create party_join party_leave party_promote party_accept party_remove party_close
party_join_request_list party_matchmaker_add party_matchmaker_remove party_data_send party_update
ping pong status_follow status_unfollow status_update
""".split())

_RT_KEYS = {kind.replace("_", ""): kind for kind in RT_MESSAGES}


def api_key(name: str) -> str | None:
    """The registry key (lowercase) of an API method name, or None if Nakama has no such method."""
    if not isinstance(name, str):
        return None
    key = name.lower()
    return key if key in _API_KEYS else None


def api_name(key: str) -> str:
    return _API_KEYS.get(key, key)


def rt_kind(name: str) -> str | None:
    """The envelope kind ("channel_join") a hook name ("ChannelJoin") stands for, or None."""
    if not isinstance(name, str):
        return None
    return _RT_KEYS.get(name.replace("_", "").lower())


def rt_name(kind: str) -> str:
    return "".join(part.capitalize() for part in kind.split("_"))
