-- Accounts: users (with the system user), their devices, and tombstones of deleted accounts.
-- +kizuna phase: expand
-- +migrate Up
CREATE TABLE users (
    id            UUID          PRIMARY KEY,
    username      VARCHAR(128)  NOT NULL,
    display_name  VARCHAR(255),
    avatar_url    VARCHAR(512),
    lang_tag      VARCHAR(18)   NOT NULL DEFAULT 'en',
    location      VARCHAR(255),
    timezone      VARCHAR(255),
    metadata      JSONB         NOT NULL DEFAULT '{}',
    wallet        JSONB         NOT NULL DEFAULT '{}',
    email         VARCHAR(255),
    password      BYTEA         CONSTRAINT users_password_length_check CHECK (length(password) < 32000),
    facebook_id   VARCHAR(128),
    google_id     VARCHAR(128),
    gamecenter_id VARCHAR(128),
    steam_id      VARCHAR(128),
    custom_id     VARCHAR(128),
    facebook_instant_game_id VARCHAR(128),
    apple_id      VARCHAR(128),
    edge_count    INTEGER       NOT NULL DEFAULT 0 CONSTRAINT users_edge_count_check CHECK (edge_count >= 0),
    create_time   TIMESTAMPTZ   NOT NULL DEFAULT now(),
    update_time   TIMESTAMPTZ   NOT NULL DEFAULT now(),
    verify_time   TIMESTAMPTZ   NOT NULL DEFAULT '1970-01-01 00:00:00 UTC',
    disable_time  TIMESTAMPTZ   NOT NULL DEFAULT '1970-01-01 00:00:00 UTC',
    CONSTRAINT users_username_key UNIQUE (username),
    CONSTRAINT users_email_key UNIQUE (email),
    CONSTRAINT users_facebook_id_key UNIQUE (facebook_id),
    CONSTRAINT users_google_id_key UNIQUE (google_id),
    CONSTRAINT users_gamecenter_id_key UNIQUE (gamecenter_id),
    CONSTRAINT users_steam_id_key UNIQUE (steam_id),
    CONSTRAINT users_custom_id_key UNIQUE (custom_id),
    CONSTRAINT users_facebook_instant_game_id_key UNIQUE (facebook_instant_game_id),
    CONSTRAINT users_apple_id_key UNIQUE (apple_id)
);

-- The system user owns server-side objects (storage, notifications sent by the server).
INSERT INTO users (id, username) VALUES ('00000000-0000-0000-0000-000000000000', '');

CREATE TABLE user_device (
    id                 VARCHAR(128) PRIMARY KEY,
    user_id            UUID         NOT NULL,
    preferences        JSONB        NOT NULL DEFAULT '{}',
    push_token_amazon  VARCHAR(512) NOT NULL DEFAULT '',
    push_token_android VARCHAR(512) NOT NULL DEFAULT '',
    push_token_huawei  VARCHAR(512) NOT NULL DEFAULT '',
    push_token_ios     VARCHAR(512) NOT NULL DEFAULT '',
    push_token_web     VARCHAR(512) NOT NULL DEFAULT '',
    CONSTRAINT user_device_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE,
    CONSTRAINT user_device_user_id_id_key UNIQUE (user_id, id)
);

CREATE TABLE user_tombstone (
    user_id     UUID        NOT NULL,
    create_time TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT user_tombstone_pkey PRIMARY KEY (create_time, user_id),
    CONSTRAINT user_tombstone_user_id_key UNIQUE (user_id)
);

-- +migrate Down
DROP TABLE user_tombstone;
DROP TABLE user_device;
DROP TABLE users;
