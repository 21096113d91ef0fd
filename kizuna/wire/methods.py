"""The one table of Nakama's method names: API methods (api.proto) and socket messages
(realtime.proto's Envelope).

Used by REST routing (every /v2 route names its API method, kizuna/api/endpoint.py), by socket
dispatch (which kinds exist, which a client may send, and which this server does not serve yet:
those answer "not supported by this server yet"), and by server modules' hooks (the names
`register_before`/`register_after` and `register_rt_before`/`register_rt_after` accept).

Hook names: API methods as in api.proto ("AuthenticateDevice"); socket messages as the Envelope
field in CamelCase ("ChannelJoin", "MatchDataSend"), "channel_join" accepted too. `rpc` has no
realtime hooks (as in Nakama).
"""

from __future__ import annotations

# A block of names, one word each (noqa: SIM905: its fix puts 83 quoted strings on one line).
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
""".split())  # noqa: SIM905

# Every message key of Nakama's Envelope, in field-number order, and who sends it: "client"
# (a request or a client's message), "server" (a reply or a push), or "both" (ping and pong).
SOCKET_MESSAGES: dict[str, str] = {
    "channel": "server", "channel_join": "client", "channel_leave": "client",
    "channel_message": "server", "channel_message_ack": "server",
    "channel_message_send": "client", "channel_message_update": "client",
    "channel_message_remove": "client", "channel_presence_event": "server", "error": "server",
    "match": "server", "match_create": "client", "match_data": "server",
    "match_data_send": "client", "match_join": "client", "match_leave": "client",
    "match_presence_event": "server", "matchmaker_add": "client", "matchmaker_matched": "server",
    "matchmaker_remove": "client", "matchmaker_ticket": "server", "notifications": "server",
    "rpc": "both", "status": "server", "status_follow": "client",
    "status_presence_event": "server", "status_unfollow": "client", "status_update": "client",
    "stream_data": "server", "stream_presence_event": "server", "ping": "both", "pong": "both",
    "party": "server", "party_create": "client", "party_join": "client", "party_leave": "client",
    "party_promote": "client", "party_leader": "server", "party_accept": "client",
    "party_remove": "client", "party_close": "client", "party_join_request_list": "client",
    "party_join_request": "server", "party_matchmaker_add": "client",
    "party_matchmaker_remove": "client", "party_matchmaker_ticket": "server",
    "party_data": "server", "party_data_send": "client", "party_presence_event": "server",
    "party_update": "client",
}

SOCKET_KINDS = frozenset(SOCKET_MESSAGES)
"""Every message key an envelope may carry."""

CLIENT_KINDS = frozenset(k for k, who in SOCKET_MESSAGES.items() if who != "server")
"""The messages a client may send: a kind among these without a handler is answered "not
supported by this server yet"; any other kind is an unrecognized message."""

HOOKABLE_KINDS = CLIENT_KINDS - {"rpc"}
"""The socket messages server modules can hook."""

_API_KEYS = {name.lower(): name for name in API_METHODS}
_RT_KEYS = {kind.replace("_", ""): kind for kind in HOOKABLE_KINDS}


def api_key(name: object) -> str | None:
    """The registry key (lowercase) of an API method name, or None if Nakama has no such method."""
    if not isinstance(name, str):
        return None
    key = name.lower()
    return key if key in _API_KEYS else None


def api_name(key: str) -> str:
    return _API_KEYS.get(key, key)


def rt_kind(name: object) -> str | None:
    """The envelope kind ("channel_join") a hook name ("ChannelJoin") stands for, or None."""
    if not isinstance(name, str):
        return None
    return _RT_KEYS.get(name.replace("_", "").lower())


def rt_name(kind: str) -> str:
    return "".join(part.capitalize() for part in kind.split("_"))


def not_supported(kind: str) -> str:
    """The message for a client socket message this server does not serve yet."""
    return f"{kind} is not supported by this server yet"
