"""nk: groups (kizuna/core/groups.py), by Nakama's runtime names and parameters (as the Lua and
JavaScript runtimes order them). The same rules as the REST API; a `caller_id` (or `user_id`
for `group_update`) of None acts with authority, as a superadmin of every group."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, cast

from kizuna.core import groups
from kizuna.errors import invalid
from kizuna.runtime.nk import args
from kizuna.runtime.nk.base import Area, api
from kizuna.runtime.shapes import Group, GroupUser, UserGroup
from kizuna.wire import codec, encode, paging


def _metadata(value: Mapping[str, Any] | str | None) -> str | None:
    return None if value is None else codec.document_text(value, "metadata")


def _caller(value: str | None) -> str | None:
    return args.user_id(value) if value else None


def _state(value: int | None) -> int | None:
    if value is None:
        return None
    if type(value) is not int or not 0 <= value <= groups.BANNED:
        raise invalid("Invalid state - state must be between 0 and 4.")
    return value


class GroupsNk(Area):

    @api
    async def group_create(self, user_id: str, name: str, creator_id: str | None = None,
                           lang_tag: str | None = None, description: str | None = None,
                           avatar_url: str | None = None, open: bool = False,
                           metadata: Mapping[str, Any] | str | None = None,
                           max_count: int = 100) -> Group:
        """A new group with `user_id` as its superadmin; `creator_id` defaults to `user_id`.

        Errors:
            - 3 INVALID_ARGUMENT `Invalid user ID <value>: expected a UUID.` (user_id is not a UUID)
            - 3 INVALID_ARGUMENT `Invalid user ID <value>: expected a UUID.` (creator_id is not a
              UUID)
            - 3 INVALID_ARGUMENT `metadata must be JSON-encodable.` (a value json cannot encode)
            - 3 INVALID_ARGUMENT `Group creator must be a user.` (the nil UUID)
            - 3 INVALID_ARGUMENT `Group name must be set.`
            - 3 INVALID_ARGUMENT `<Field> must be at most <n> characters.` / `<Field> must not contain
              NUL characters.` (`Group name` 255, `Group language` 18, `Group description` 255, `Group
              avatar URL` 512)
            - 3 INVALID_ARGUMENT `Metadata must be a JSON object.` / `Metadata must not contain NUL
              characters.`
            - 3 INVALID_ARGUMENT `Group max count must be >= 1 when set.`
            - 3 INVALID_ARGUMENT `Group max count must be at most 2147483647.`
            - 5 NOT_FOUND `User account not found.`
            - 6 ALREADY_EXISTS `Group name is in use.`

        Example:
            group = nk.group_create(ctx.user_id, "Night Owls", open=True, max_count=50)
            group_id = group["id"]
        """
        group = await groups.create_group(
            self._domain.pool, args.user_id(user_id), name,
            creator_id=_caller(creator_id), lang_tag=lang_tag or "",
            description=description or "", avatar_url=avatar_url or "", open=bool(open),
            metadata=_metadata(metadata), max_count=max_count)
        return cast(Group, encode.group(group, full=True))

    @api
    async def group_update(self, group_id: str, user_id: str | None = None,
                           name: str | None = None, creator_id: str | None = None,
                           lang_tag: str | None = None, description: str | None = None,
                           avatar_url: str | None = None, open: bool | None = None,
                           metadata: Mapping[str, Any] | str | None = None,
                           max_count: int | None = None) -> None:
        """Change the given fields (None: unchanged; "" clears a description or avatar URL). With
        a `user_id`, that user must be an admin or superadmin of the group.

        Errors:
            - 3 INVALID_ARGUMENT `Group ID must be set.`
            - 3 INVALID_ARGUMENT `Group ID must be a valid ID.`
            - 3 INVALID_ARGUMENT `Invalid user ID <value>: expected a UUID.` (user_id is not a UUID)
              (when given)
            - 3 INVALID_ARGUMENT `Invalid user ID <value>: expected a UUID.` (creator_id is not a
              UUID)
            - 3 INVALID_ARGUMENT `metadata must be JSON-encodable.` (a value json cannot encode)
            - 3 INVALID_ARGUMENT `Group name cannot be empty.`
            - 3 INVALID_ARGUMENT `Group language cannot be empty.`
            - 3 INVALID_ARGUMENT `<Field> must be at most <n> characters.` / `<Field> must not contain
              NUL characters.` (`Group name` 255, `Group language` 18, `Group description` 255, `Group
              avatar URL` 512)
            - 3 INVALID_ARGUMENT `Metadata must be a JSON object.` / `Metadata must not contain NUL
              characters.`
            - 3 INVALID_ARGUMENT `Group max count must be >= 1 when set.`
            - 3 INVALID_ARGUMENT `Group max count must be at most 2147483647.`
            - 3 INVALID_ARGUMENT `Specify at least one field to update.`
            - 5 NOT_FOUND `Group not found or you're not allowed to update.` (`user_id` is not an
              admin or superadmin of the group)
            - 3 INVALID_ARGUMENT `Group name is in use.`
            - 3 INVALID_ARGUMENT `Group max count cannot be below its member count.`
            - 3 INVALID_ARGUMENT `No new fields in group update.` (the group does not exist)

        Example:
            nk.group_update(group_id, description="Weekly raids", open=False)
        """
        await groups.update_group(
            self._domain.pool, groups.group_id(group_id), _caller(user_id), name=name,
            creator_id=_caller(creator_id), lang_tag=lang_tag, description=description,
            avatar_url=avatar_url, open=open, metadata=_metadata(metadata), max_count=max_count)

    @api
    async def group_delete(self, group_id: str) -> None:
        """Delete a group and its memberships (an absent group is no error).

        Errors:
            - 3 INVALID_ARGUMENT `Group ID must be set.`
            - 3 INVALID_ARGUMENT `Group ID must be a valid ID.`

        Example:
            nk.group_delete(group_id)
        """
        await groups.delete_group(self._domain, groups.group_id(group_id), None)

    @api
    async def groups_get_id(self, group_ids: Sequence[str]) -> list[Group]:
        """Groups by id; unknown ones are left out.

        Errors:
            - 3 INVALID_ARGUMENT `group_ids: expected a list of strings.`
            - 3 INVALID_ARGUMENT `Group ID must be set.`
            - 3 INVALID_ARGUMENT `Group ID must be a valid ID.`

        Example:
            groups = nk.groups_get_id([group_id])
        """
        ids = [groups.group_id(g) for g in args.strings(group_ids, "group_ids")]
        found = await groups.get_groups(self._domain.pool, ids)
        return [cast(Group, encode.group(g, full=True)) for g in found]

    @api
    async def group_users_list(self, group_id: str, limit: int = 100, state: int | None = None,
                               cursor: str | None = None) -> tuple[list[GroupUser], str | None]:
        """One page of a group's users `{"user", "state"}` (only `state` when given; banned users
        only then) and the next page's cursor (None at the end).

        Errors:
            - 3 INVALID_ARGUMENT `Group ID must be set.`
            - 3 INVALID_ARGUMENT `Group ID must be a valid ID.`
            - 3 INVALID_ARGUMENT `Invalid limit - limit must be between 1 and 100.`
            - 3 INVALID_ARGUMENT `Invalid state - state must be between 0 and 4.`
            - 3 INVALID_ARGUMENT `Cursor is invalid.`

        Example:
            members, cursor = nk.group_users_list(group_id, limit=100)
            admins = [m["user"]["id"] for m in members if m["state"] <= 1]
        """
        page = await groups.list_group_users(
            self._domain, groups.group_id(group_id), paging.limit(limit, default=100),
            _state(state), cursor or None)
        return ([cast(GroupUser, encode.group_user(u, full=True)) for u in page.group_users],
                page.cursor)

    @api
    async def user_groups_list(self, user_id: str, limit: int = 100, state: int | None = None,
                               cursor: str | None = None) -> tuple[list[UserGroup], str | None]:
        """One page of a user's groups `{"group", "state"}` and the next page's cursor.

        Errors:
            - 3 INVALID_ARGUMENT `Invalid user ID <value>: expected a UUID.` (user_id is not a UUID)
            - 3 INVALID_ARGUMENT `Invalid limit - limit must be between 1 and 100.`
            - 3 INVALID_ARGUMENT `Invalid state - state must be between 0 and 4.`
            - 3 INVALID_ARGUMENT `Cursor is invalid.`

        Example:
            memberships, cursor = nk.user_groups_list(ctx.user_id)
        """
        page = await groups.list_user_groups(
            self._domain.pool, args.user_id(user_id), paging.limit(limit, default=100),
            _state(state), cursor or None)
        return ([cast(UserGroup, encode.user_group(g, full=True)) for g in page.user_groups],
                page.cursor)

    @api
    async def groups_list(self, name: str | None = None, lang_tag: str | None = None,
                          members: int | None = None, open: bool | None = None, limit: int = 100,
                          cursor: str | None = None) -> tuple[list[Group], str | None]:
        """One page of groups and the next page's cursor: by `name` (a LIKE pattern, `abc%` for a
        prefix; alone), or by any of `lang_tag`, `members` (at most that many) and `open`.

        Errors:
            - 3 INVALID_ARGUMENT `Invalid limit - limit must be between 1 and 100.`
            - 3 INVALID_ARGUMENT `name filter cannot be combined with any other filter`
            - 3 INVALID_ARGUMENT `Group name must be at most 257 characters.` / `Group language must
              be at most 18 characters.` (or they contain NUL characters)
            - 3 INVALID_ARGUMENT `Invalid members - members must be an int32.`
            - 3 INVALID_ARGUMENT `Malformed cursor was used.`

        Example:
            groups, cursor = nk.groups_list(lang_tag="en", open=True, limit=20)
        """
        page = await groups.list_groups(
            self._domain.pool, paging.limit(limit, default=100), name=name or "",
            lang_tag=lang_tag or "", members=members, open=open, cursor=cursor or None)
        return [cast(Group, encode.group(g, full=True)) for g in page.groups], page.cursor

    async def _users(self, use_case: Any, group_id: str, user_ids: Sequence[str],
                     caller_id: str | None) -> None:
        ids = groups.user_ids(args.strings(user_ids, "user_ids"))
        if ids:
            await use_case(self._domain, _caller(caller_id), groups.group_id(group_id), ids)

    @api
    async def group_users_add(self, group_id: str, user_ids: Sequence[str],
                              caller_id: str | None = None) -> None:
        """Add users as members (accepting join requests); each gets notification -4.

        Errors:
            - 3 INVALID_ARGUMENT `Group ID must be set.`
            - 3 INVALID_ARGUMENT `Group ID must be a valid ID.`
            - 3 INVALID_ARGUMENT `user_ids: expected a list of strings.`
            - 3 INVALID_ARGUMENT `User ID must be a valid ID.` (not a UUID, or the nil UUID)
            - 3 INVALID_ARGUMENT `Invalid user ID <value>: expected a UUID.` (caller_id is not a UUID)
            - 5 NOT_FOUND `Group not found or permission denied.` (`caller_id` is not an admin or
              superadmin of the group)
            - 5 NOT_FOUND `Group not found.`
            - 3 INVALID_ARGUMENT `One or more users not found.` (nothing is added)
            - 3 INVALID_ARGUMENT `Group is full.`

        Example:
            nk.group_users_add(group_id, [new_member_id])
        """
        await self._users(groups.add_group_users, group_id, user_ids, caller_id)

    @api
    async def group_users_kick(self, group_id: str, user_ids: Sequence[str],
                               caller_id: str | None = None) -> None:
        """Remove users from a group (the last superadmin stays); their sockets leave its
        channel.

        Errors:
            - 3 INVALID_ARGUMENT `Group ID must be set.`
            - 3 INVALID_ARGUMENT `Group ID must be a valid ID.`
            - 3 INVALID_ARGUMENT `user_ids: expected a list of strings.`
            - 3 INVALID_ARGUMENT `User ID must be a valid ID.` (not a UUID, or the nil UUID)
            - 3 INVALID_ARGUMENT `Invalid user ID <value>: expected a UUID.` (caller_id is not a UUID)
            - 5 NOT_FOUND `Group not found or permission denied.` (`caller_id` is not an admin or
              superadmin of the group)
            - 5 NOT_FOUND `Group not found.`

        Example:
            nk.group_users_kick(group_id, [user_id], caller_id=ctx.user_id)
        """
        await self._users(groups.kick_group_users, group_id, user_ids, caller_id)

    @api
    async def group_users_ban(self, group_id: str, user_ids: Sequence[str],
                              caller_id: str | None = None) -> None:
        """Ban users from a group (they leave it and cannot join again until kicked).

        Errors:
            - 3 INVALID_ARGUMENT `Group ID must be set.`
            - 3 INVALID_ARGUMENT `Group ID must be a valid ID.`
            - 3 INVALID_ARGUMENT `user_ids: expected a list of strings.`
            - 3 INVALID_ARGUMENT `User ID must be a valid ID.` (not a UUID, or the nil UUID)
            - 3 INVALID_ARGUMENT `Invalid user ID <value>: expected a UUID.` (caller_id is not a UUID)
            - 5 NOT_FOUND `Group not found or permission denied.` (`caller_id` is not an admin or
              superadmin of the group)
            - 5 NOT_FOUND `Group not found.`

        Example:
            nk.group_users_ban(group_id, [troll_id])
        """
        await self._users(groups.ban_group_users, group_id, user_ids, caller_id)

    @api
    async def group_users_promote(self, group_id: str, user_ids: Sequence[str],
                                  caller_id: str | None = None) -> None:
        """Raise users one role (join request -> member -> admin -> superadmin).

        Errors:
            - 3 INVALID_ARGUMENT `Group ID must be set.`
            - 3 INVALID_ARGUMENT `Group ID must be a valid ID.`
            - 3 INVALID_ARGUMENT `user_ids: expected a list of strings.`
            - 3 INVALID_ARGUMENT `User ID must be a valid ID.` (not a UUID, or the nil UUID)
            - 3 INVALID_ARGUMENT `Invalid user ID <value>: expected a UUID.` (caller_id is not a UUID)
            - 5 NOT_FOUND `Group not found or permission denied.` (`caller_id` is not an admin or
              superadmin of the group)
            - 5 NOT_FOUND `Group not found.`
            - 3 INVALID_ARGUMENT `Group is full.` (accepting a join request into a full group)

        Example:
            nk.group_users_promote(group_id, [user_id])
        """
        await self._users(groups.promote_group_users, group_id, user_ids, caller_id)

    @api
    async def group_users_demote(self, group_id: str, user_ids: Sequence[str],
                                 caller_id: str | None = None) -> None:
        """Lower users one role (superadmin -> admin -> member; never the last superadmin).

        Errors:
            - 3 INVALID_ARGUMENT `Group ID must be set.`
            - 3 INVALID_ARGUMENT `Group ID must be a valid ID.`
            - 3 INVALID_ARGUMENT `user_ids: expected a list of strings.`
            - 3 INVALID_ARGUMENT `User ID must be a valid ID.` (not a UUID, or the nil UUID)
            - 3 INVALID_ARGUMENT `Invalid user ID <value>: expected a UUID.` (caller_id is not a UUID)
            - 5 NOT_FOUND `Group not found or permission denied.` (`caller_id` is not an admin or
              superadmin of the group)
            - 5 NOT_FOUND `Group not found.`

        Example:
            nk.group_users_demote(group_id, [user_id])
        """
        await self._users(groups.demote_group_users, group_id, user_ids, caller_id)
