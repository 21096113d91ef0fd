-- The friend graph (user_edge), with Nakama's table shape so that `kizuna import nakama` copies
-- rows as they are. A friendship and an invite are two rows, one per direction; a block is one
-- row, the blocker's. users.edge_count is the number of a user's rows here (as source), kept in
-- the same transaction as the rows. New table only: nodes of the previous release keep serving
-- while this runs.
-- +kizuna phase: expand
-- +migrate Up
CREATE TABLE user_edge (
    source_id      UUID        NOT NULL,
    -- Sort key of a user's list within a state: the time the edge was made, in nanoseconds.
    position       BIGINT      NOT NULL,
    update_time    TIMESTAMPTZ NOT NULL DEFAULT now(),
    destination_id UUID        NOT NULL,
    -- 0 friend, 1 invite sent, 2 invite received, 3 blocked.
    state          SMALLINT    NOT NULL DEFAULT 0,
    metadata       JSONB       NOT NULL DEFAULT '{}',
    CONSTRAINT user_edge_pkey PRIMARY KEY (source_id, state, position),
    CONSTRAINT user_edge_source_id_destination_id_key UNIQUE (source_id, destination_id),
    CONSTRAINT user_edge_source_id_fkey FOREIGN KEY (source_id) REFERENCES users (id) ON DELETE CASCADE,
    CONSTRAINT user_edge_destination_id_fkey FOREIGN KEY (destination_id) REFERENCES users (id) ON DELETE CASCADE,
    CONSTRAINT user_edge_source_id_check CHECK (source_id <> '00000000-0000-0000-0000-000000000000'),
    CONSTRAINT user_edge_destination_id_check CHECK (destination_id <> '00000000-0000-0000-0000-000000000000')
);

CREATE INDEX user_edge_auto_index_fk_destination_id_ref_users ON user_edge (destination_id);

-- +migrate Down
DROP TABLE user_edge;
