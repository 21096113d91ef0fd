-- Sessions issued to players, so that a logout or a ban outlives a restart and reaches every node
-- sharing the database (Nakama keeps its deny-list in one node's memory).
-- +kizuna phase: expand
-- +migrate Up
CREATE TABLE user_session (
    token_id    UUID        PRIMARY KEY,
    user_id     UUID        NOT NULL,
    create_time TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- When the refresh token of this session expires: the row is useless after that.
    expire_time TIMESTAMPTZ NOT NULL,
    revoke_time TIMESTAMPTZ
);
CREATE INDEX user_session_user_id_idx ON user_session (user_id);
CREATE INDEX user_session_revoke_time_idx ON user_session (revoke_time) WHERE revoke_time IS NOT NULL;
CREATE INDEX user_session_expire_time_idx ON user_session (expire_time);

-- +migrate Down
DROP TABLE user_session;
