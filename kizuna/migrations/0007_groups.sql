-- Groups (groups) and group membership (group_edge), with Nakama's table shapes so that an import
-- from Nakama copies rows as they are.
-- +kizuna phase: expand
-- +migrate Up
CREATE TABLE groups (
    id           UUID         NOT NULL,
    creator_id   UUID         NOT NULL,
    name         VARCHAR(255) NOT NULL,
    description  VARCHAR(255),
    avatar_url   VARCHAR(512),
    -- https://tools.ietf.org/html/bcp47
    lang_tag     VARCHAR(18)  DEFAULT 'en',
    metadata     JSONB        NOT NULL DEFAULT '{}',
    -- 0 open, 1 closed.
    state        SMALLINT     NOT NULL DEFAULT 0 CHECK (state >= 0),
    -- Members (superadmins, admins and members; not join requests or bans). Every change to the
    -- membership updates it in the same transaction; the CHECK enforces max_count.
    edge_count   INT          NOT NULL DEFAULT 0 CHECK (edge_count >= 1 AND edge_count <= max_count),
    max_count    INT          NOT NULL DEFAULT 100 CHECK (max_count >= 1),
    create_time  TIMESTAMPTZ  NOT NULL DEFAULT now(),
    update_time  TIMESTAMPTZ  NOT NULL DEFAULT now(),
    -- The epoch when the group is not disabled.
    disable_time TIMESTAMPTZ  NOT NULL DEFAULT '1970-01-01 00:00:00 UTC',
    CONSTRAINT groups_pkey PRIMARY KEY (disable_time, lang_tag, edge_count, id),
    CONSTRAINT groups_id_key UNIQUE (id),
    CONSTRAINT groups_name_key UNIQUE (name)
);
-- Nakama's listing indexes (by member count, by last update).
CREATE INDEX edge_count_update_time_id_idx ON groups (disable_time, edge_count, update_time, id);
CREATE INDEX update_time_edge_count_id_idx ON groups (disable_time, update_time, edge_count, id);
-- Search by name prefix (`name=abc%`, case-insensitive): `lower(name) LIKE 'abc%'` under the C
-- collation is a range scan of this index, in its order, whatever the number of groups.
CREATE INDEX groups_lower_name_id_idx ON groups ((lower(name) COLLATE "C"), id);

-- One row per direction: (group -> user) and (user -> group), with the same state and position.
-- State: 0 superadmin, 1 admin, 2 member, 3 join request, 4 banned. The primary key serves both
-- "a group's users" and "a user's groups" in (state, position) order.
CREATE TABLE group_edge (
    source_id      UUID        NOT NULL CHECK (source_id <> '00000000-0000-0000-0000-000000000000'),
    -- Sort key within a state (UnixNano of the change).
    position       BIGINT      NOT NULL,
    update_time    TIMESTAMPTZ NOT NULL DEFAULT now(),
    destination_id UUID        NOT NULL CHECK (destination_id <> '00000000-0000-0000-0000-000000000000'),
    state          SMALLINT    NOT NULL DEFAULT 0,
    CONSTRAINT group_edge_pkey PRIMARY KEY (source_id, state, position),
    CONSTRAINT group_edge_source_id_destination_id_key UNIQUE (source_id, destination_id)
);

-- +migrate Down
DROP TABLE group_edge;
DROP TABLE groups;
