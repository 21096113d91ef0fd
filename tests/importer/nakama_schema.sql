-- A Nakama-shaped source database for the importer's tests and benchmarks: the final state of a
-- Nakama 3.40 schema on PostgreSQL (all 19 migration files applied), written for Kizuna's tests
-- from the table-by-table description in the project's Nakama contract notes (§2). It is not
-- Nakama's own DDL; it reproduces the shapes an importer meets: column types, nullability,
-- defaults, CHECKs, keys and indexes.
--
-- Applied as one script (tests/importer/nakama_fixture.py). Columns that are part of a primary
-- key are NOT NULL whatever the description says (PostgreSQL forces it): leaderboard_record's
-- subscore, group_edge's position and state, groups' lang_tag and edge_count, storage's user_id.

-- ---------------------------------------------------------------------------------------------
-- Accounts
-- ---------------------------------------------------------------------------------------------

CREATE TABLE users (
    id                       UUID         NOT NULL,
    username                 VARCHAR(128) NOT NULL,
    display_name             VARCHAR(255),
    avatar_url               VARCHAR(512),
    lang_tag                 VARCHAR(18)  NOT NULL DEFAULT 'en',
    location                 VARCHAR(255),
    timezone                 VARCHAR(255),
    metadata                 JSONB        NOT NULL DEFAULT '{}',
    wallet                   JSONB        NOT NULL DEFAULT '{}',
    email                    VARCHAR(255),
    password                 BYTEA        CHECK (length(password) < 32000),
    facebook_id              VARCHAR(128),
    google_id                VARCHAR(128),
    gamecenter_id            VARCHAR(128),
    steam_id                 VARCHAR(128),
    custom_id                VARCHAR(128),
    facebook_instant_game_id VARCHAR(128),
    apple_id                 VARCHAR(128),
    edge_count               INT          NOT NULL DEFAULT 0 CHECK (edge_count >= 0),
    create_time              TIMESTAMPTZ  NOT NULL DEFAULT now(),
    update_time              TIMESTAMPTZ  NOT NULL DEFAULT now(),
    verify_time              TIMESTAMPTZ  NOT NULL DEFAULT '1970-01-01 00:00:00 UTC',
    disable_time             TIMESTAMPTZ  NOT NULL DEFAULT '1970-01-01 00:00:00 UTC',
    PRIMARY KEY (id),
    CONSTRAINT users_username_key UNIQUE (username),
    UNIQUE (email),
    UNIQUE (facebook_id),
    UNIQUE (google_id),
    UNIQUE (gamecenter_id),
    UNIQUE (steam_id),
    UNIQUE (custom_id),
    UNIQUE (facebook_instant_game_id),
    UNIQUE (apple_id)
);

-- The system user: owner of server-written objects (nil UUID, empty username).
INSERT INTO users (id, username) VALUES ('00000000-0000-0000-0000-000000000000', '');

CREATE TABLE user_device (
    id                 VARCHAR(128) NOT NULL,
    user_id            UUID         NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    preferences        JSONB        NOT NULL DEFAULT '{}',
    push_token_amazon  VARCHAR(512) NOT NULL DEFAULT '',
    push_token_android VARCHAR(512) NOT NULL DEFAULT '',
    push_token_huawei  VARCHAR(512) NOT NULL DEFAULT '',
    push_token_ios     VARCHAR(512) NOT NULL DEFAULT '',
    push_token_web     VARCHAR(512) NOT NULL DEFAULT '',
    PRIMARY KEY (id),
    UNIQUE (user_id, id)
);

CREATE TABLE user_tombstone (
    user_id     UUID        NOT NULL UNIQUE,
    create_time TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (create_time, user_id)
);

-- ---------------------------------------------------------------------------------------------
-- Friends (two rows per friendship or invite, one per block)
-- ---------------------------------------------------------------------------------------------

CREATE TABLE user_edge (
    source_id      UUID        NOT NULL
        CHECK (source_id <> '00000000-0000-0000-0000-000000000000')
        REFERENCES users (id) ON DELETE CASCADE,
    position       BIGINT      NOT NULL,
    update_time    TIMESTAMPTZ NOT NULL DEFAULT now(),
    destination_id UUID        NOT NULL
        CHECK (destination_id <> '00000000-0000-0000-0000-000000000000')
        REFERENCES users (id) ON DELETE CASCADE,
    state          SMALLINT    NOT NULL DEFAULT 0,
    metadata       JSONB       NOT NULL DEFAULT '{}',
    PRIMARY KEY (source_id, state, position),
    UNIQUE (source_id, destination_id)
);
CREATE INDEX user_edge_auto_index_fk_destination_id_ref_users ON user_edge (destination_id);

-- ---------------------------------------------------------------------------------------------
-- Notifications, storage, chat history
-- ---------------------------------------------------------------------------------------------

CREATE TABLE notification (
    id          UUID         NOT NULL,
    user_id     UUID         NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    subject     VARCHAR(255) NOT NULL,
    content     JSONB        NOT NULL DEFAULT '{}',
    code        SMALLINT     NOT NULL,
    sender_id   UUID         NOT NULL,
    create_time TIMESTAMPTZ  NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, create_time, id),
    CONSTRAINT notification_id_key UNIQUE (id)
);

CREATE TABLE storage (
    collection  VARCHAR(128) NOT NULL,
    key         VARCHAR(128) NOT NULL,
    user_id     UUID         NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    value       JSONB        NOT NULL DEFAULT '{}',
    version     VARCHAR(32)  NOT NULL,
    read        SMALLINT     NOT NULL DEFAULT 1 CHECK (read >= 0),
    write       SMALLINT     NOT NULL DEFAULT 1 CHECK (write >= 0),
    create_time TIMESTAMPTZ  NOT NULL DEFAULT now(),
    update_time TIMESTAMPTZ  NOT NULL DEFAULT now(),
    PRIMARY KEY (collection, key, user_id)
);
CREATE INDEX collection_read_user_id_key_idx ON storage (collection, read, user_id, key);
CREATE INDEX collection_read_key_user_id_idx ON storage (collection, read, key, user_id);
CREATE INDEX collection_user_id_read_key_idx ON storage (collection, user_id, read, key);
CREATE INDEX storage_auto_index_fk_user_id_ref_users ON storage (user_id);

CREATE TABLE message (
    id                UUID         NOT NULL UNIQUE,
    code              SMALLINT     NOT NULL DEFAULT 0,
    sender_id         UUID         NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    username          VARCHAR(128) NOT NULL,
    stream_mode       SMALLINT     NOT NULL,
    stream_subject    UUID         NOT NULL,
    stream_descriptor UUID         NOT NULL,
    stream_label      VARCHAR(128) NOT NULL,
    content           JSONB        NOT NULL DEFAULT '{}',
    create_time       TIMESTAMPTZ  NOT NULL DEFAULT now(),
    update_time       TIMESTAMPTZ  NOT NULL DEFAULT now(),
    PRIMARY KEY (stream_mode, stream_subject, stream_descriptor, stream_label, create_time, id),
    UNIQUE (sender_id, id)
);

-- ---------------------------------------------------------------------------------------------
-- Leaderboards and tournaments
-- ---------------------------------------------------------------------------------------------

CREATE TABLE leaderboard (
    id             VARCHAR(128) NOT NULL,
    authoritative  BOOLEAN      NOT NULL DEFAULT false,
    sort_order     SMALLINT     NOT NULL DEFAULT 1,   -- 0 ascending, 1 descending
    operator       SMALLINT     NOT NULL DEFAULT 0,   -- 0 best, 1 set, 2 incr, 3 decr
    reset_schedule VARCHAR(64),
    metadata       JSONB,
    create_time    TIMESTAMPTZ  NOT NULL DEFAULT now(),
    category       SMALLINT     NOT NULL DEFAULT 0 CHECK (category >= 0),
    description    VARCHAR(255) NOT NULL DEFAULT '',
    duration       INT          NOT NULL DEFAULT 0,
    end_time       TIMESTAMPTZ  NOT NULL DEFAULT '1970-01-01 00:00:00 UTC',
    join_required  BOOLEAN      NOT NULL DEFAULT false,
    max_size       INT          NOT NULL DEFAULT 100000000 CHECK (max_size > 0),
    max_num_score  INT          NOT NULL DEFAULT 1000000 CHECK (max_num_score > 0),
    title          VARCHAR(255) NOT NULL DEFAULT '',
    size           INT          NOT NULL DEFAULT 0,
    start_time     TIMESTAMPTZ  NOT NULL DEFAULT now(),
    enable_ranks   BOOLEAN      DEFAULT true,
    PRIMARY KEY (id)
);
CREATE INDEX duration_start_time_end_time_category_idx
    ON leaderboard (duration, start_time, end_time DESC, category);
CREATE INDEX leaderboard_create_time_id_idx ON leaderboard (create_time, id);

CREATE TABLE leaderboard_record (
    leaderboard_id VARCHAR(128) NOT NULL REFERENCES leaderboard (id) ON DELETE CASCADE,
    owner_id       UUID         NOT NULL,
    username       VARCHAR(128),
    score          BIGINT       NOT NULL DEFAULT 0 CHECK (score >= 0),
    subscore       BIGINT       NOT NULL DEFAULT 0 CHECK (subscore >= 0),
    num_score      INT          NOT NULL DEFAULT 1 CHECK (num_score >= 0),
    max_num_score  INT          NOT NULL DEFAULT 1000000 CHECK (max_num_score > 0),
    metadata       JSONB,
    create_time    TIMESTAMPTZ  NOT NULL DEFAULT now(),
    update_time    TIMESTAMPTZ  NOT NULL DEFAULT now(),
    expiry_time    TIMESTAMPTZ  NOT NULL DEFAULT '1970-01-01 00:00:00 UTC',
    PRIMARY KEY (leaderboard_id, expiry_time, score, subscore, owner_id),
    UNIQUE (owner_id, leaderboard_id, expiry_time)
);
CREATE INDEX owner_id_expiry_time_leaderboard_id_idx
    ON leaderboard_record (owner_id, expiry_time, leaderboard_id);

-- ---------------------------------------------------------------------------------------------
-- Wallet ledger
-- ---------------------------------------------------------------------------------------------

CREATE TABLE wallet_ledger (
    id          UUID        NOT NULL UNIQUE,
    user_id     UUID        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    changeset   JSONB       NOT NULL,
    metadata    JSONB       NOT NULL,
    create_time TIMESTAMPTZ NOT NULL DEFAULT now(),
    update_time TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, create_time, id)
);

-- ---------------------------------------------------------------------------------------------
-- Groups (edges in both directions, no foreign keys)
-- ---------------------------------------------------------------------------------------------

CREATE TABLE groups (
    id           UUID         NOT NULL UNIQUE,
    creator_id   UUID         NOT NULL,
    name         VARCHAR(255) NOT NULL,
    description  VARCHAR(255),
    avatar_url   VARCHAR(512),
    lang_tag     VARCHAR(18)  DEFAULT 'en',
    metadata     JSONB,
    state        SMALLINT     DEFAULT 0,   -- 0 open, 1 closed
    edge_count   INT          DEFAULT 0 CHECK (edge_count >= 1 AND edge_count <= max_count),
    max_count    INT          DEFAULT 100 CHECK (max_count >= 1),
    create_time  TIMESTAMPTZ  NOT NULL DEFAULT now(),
    update_time  TIMESTAMPTZ  NOT NULL DEFAULT now(),
    disable_time TIMESTAMPTZ  NOT NULL DEFAULT '1970-01-01 00:00:00 UTC',
    PRIMARY KEY (disable_time, lang_tag, edge_count, id),
    CONSTRAINT groups_name_key UNIQUE (name)
);
CREATE INDEX edge_count_update_time_id_idx ON groups (disable_time, edge_count, update_time, id);
CREATE INDEX update_time_edge_count_id_idx ON groups (disable_time, update_time, edge_count, id);

CREATE TABLE group_edge (
    source_id      UUID        NOT NULL
        CHECK (source_id <> '00000000-0000-0000-0000-000000000000'),
    position       BIGINT      NOT NULL,
    update_time    TIMESTAMPTZ NOT NULL DEFAULT now(),
    destination_id UUID        NOT NULL
        CHECK (destination_id <> '00000000-0000-0000-0000-000000000000'),
    -- 0 superadmin, 1 admin, 2 member, 3 join request, 4 banned
    state          SMALLINT    DEFAULT 0,
    PRIMARY KEY (source_id, state, position),
    UNIQUE (source_id, destination_id)
);

-- ---------------------------------------------------------------------------------------------
-- In-app purchases and subscriptions
-- ---------------------------------------------------------------------------------------------

CREATE TABLE purchase (
    transaction_id VARCHAR(512) NOT NULL CHECK (length(transaction_id) > 0),
    user_id        UUID         NOT NULL DEFAULT '00000000-0000-0000-0000-000000000000',
    create_time    TIMESTAMPTZ  NOT NULL DEFAULT now(),
    environment    SMALLINT     NOT NULL DEFAULT 0,   -- 0 unknown, 1 sandbox, 2 production
    product_id     VARCHAR(512) NOT NULL,
    purchase_time  TIMESTAMPTZ  NOT NULL DEFAULT now(),
    raw_response   JSONB,
    store          SMALLINT     NOT NULL DEFAULT 0,   -- the API's StoreProvider numbers
    update_time    TIMESTAMPTZ  NOT NULL DEFAULT now(),
    refund_time    TIMESTAMPTZ  NOT NULL DEFAULT '1970-01-01 00:00:00 UTC',
    PRIMARY KEY (transaction_id),
    CONSTRAINT purchase_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id)
        ON DELETE SET DEFAULT
);
CREATE INDEX purchase_time_user_id_transaction_id_idx
    ON purchase (purchase_time DESC, user_id DESC, transaction_id DESC);

CREATE TABLE subscription (
    original_transaction_id VARCHAR(512) NOT NULL CHECK (length(original_transaction_id) > 0),
    user_id                 UUID         NOT NULL DEFAULT '00000000-0000-0000-0000-000000000000',
    create_time             TIMESTAMPTZ  NOT NULL DEFAULT now(),
    update_time             TIMESTAMPTZ  NOT NULL DEFAULT now(),
    environment             SMALLINT     NOT NULL DEFAULT 0,
    product_id              VARCHAR(512) NOT NULL,
    purchase_time           TIMESTAMPTZ  NOT NULL DEFAULT now(),
    store                   SMALLINT     NOT NULL DEFAULT 0,
    expire_time             TIMESTAMPTZ  NOT NULL,
    raw_response            JSONB,
    raw_notification        JSONB,
    refund_time             TIMESTAMPTZ  NOT NULL DEFAULT '1970-01-01 00:00:00 UTC',
    PRIMARY KEY (original_transaction_id),
    CONSTRAINT subscription_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id)
        ON DELETE SET DEFAULT
);
CREATE INDEX subscription_time_user_id_transaction_id_idx
    ON subscription (purchase_time DESC, user_id DESC, original_transaction_id DESC);

-- ---------------------------------------------------------------------------------------------
-- Console (developer console accounts, settings, notes, audit log, ACL templates)
-- ---------------------------------------------------------------------------------------------

CREATE TABLE console_user (
    id                 UUID         NOT NULL,
    create_time        TIMESTAMPTZ  NOT NULL DEFAULT now(),
    update_time        TIMESTAMPTZ  NOT NULL DEFAULT now(),
    disable_time       TIMESTAMPTZ  NOT NULL DEFAULT '1970-01-01 00:00:00 UTC',
    email              VARCHAR(255) NOT NULL,
    username           VARCHAR(128) NOT NULL,
    metadata           JSONB,
    password           BYTEA        CHECK (length(password) < 32000),
    mfa_secret         BYTEA,
    mfa_recovery_codes BYTEA,
    mfa_required       BOOLEAN      DEFAULT false,
    acl                JSONB        NOT NULL DEFAULT '{"admin": false}',
    PRIMARY KEY (id),
    CONSTRAINT console_user_email_uniq UNIQUE (email),
    CONSTRAINT console_user_username_uniq UNIQUE (username)
);

CREATE TABLE setting (
    name        VARCHAR(64) NOT NULL CHECK (length(name) > 0),
    value       JSONB       DEFAULT '{}',
    update_time TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (name)
);
INSERT INTO setting (name, value) VALUES ('utc_toggle', 'false');

CREATE TABLE users_notes (
    id          UUID        NOT NULL UNIQUE,
    user_id     UUID        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    note        TEXT        NOT NULL,
    create_id   UUID,
    update_id   UUID,
    create_time TIMESTAMPTZ NOT NULL DEFAULT now(),
    update_time TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, create_time, id)
);

CREATE TABLE console_audit_log (
    id               UUID        NOT NULL UNIQUE,
    create_time      TIMESTAMPTZ NOT NULL DEFAULT now(),
    console_user_id  UUID,
    console_username TEXT        NOT NULL,
    email            TEXT        NOT NULL,
    action           TEXT        NOT NULL,
    resource         TEXT        NOT NULL,
    message          TEXT        NOT NULL,
    metadata         JSONB,
    PRIMARY KEY (create_time, console_username, action, resource, id)
);

CREATE TABLE console_acl_template (
    id          UUID        NOT NULL,
    name        VARCHAR(64) NOT NULL,
    description VARCHAR(64) DEFAULT '',
    acl         JSONB,
    create_time TIMESTAMPTZ NOT NULL DEFAULT now(),
    update_time TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (id),
    CONSTRAINT template_name_uniq UNIQUE (name)
);

-- ---------------------------------------------------------------------------------------------
-- Display-name search: a trigram GIN index, when the pg_trgm extension is installed on the
-- server (it is a contrib module: a bare PostgreSQL build may lack it; the index is then left out,
-- which an importer must not mind).
-- ---------------------------------------------------------------------------------------------

DO $trgm$
BEGIN
    CREATE EXTENSION IF NOT EXISTS pg_trgm;
    CREATE INDEX users_display_name_idx ON users USING GIN (display_name gin_trgm_ops);
EXCEPTION WHEN undefined_file OR feature_not_supported THEN
    RAISE NOTICE 'pg_trgm is not available: users_display_name_idx left out';
END
$trgm$;

-- ---------------------------------------------------------------------------------------------
-- Migration tracking: every one of Nakama 3.40's 19 migration files applied, in order.
-- ---------------------------------------------------------------------------------------------

CREATE TABLE migration_info (
    id         TEXT        NOT NULL UNIQUE,
    applied_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (id)
);
INSERT INTO migration_info (id, applied_at)
SELECT id, timestamptz '2026-01-05 10:00:00+00' + n * interval '1 millisecond'
FROM unnest(ARRAY[
    '20180103142001_initial_schema.sql',
    '20180805174141-tournaments.sql',
    '20200116134800-facebook-instant-games.sql',
    '20200615102232-apple.sql',
    '20201005180855-console.sql',
    '20210416090601-purchase.sql',
    '20220426122825-subscription.sql',
    '20221027145900-subscription-raw-columns.sql',
    '20230222172540-purchases-not-null-uid-1.sql',
    '20230222172540-purchases-not-null-uid-2.sql',
    '20230706095800-leaderboard-list-index.sql',
    '20240715155039-leaderboard-rank-enable.sql',
    '20240725115145-purchase-index-change.sql',
    '20240801100859-add-console-user-mfa.sql',
    '20250113112512_add_user_edge_metadata.sql',
    '20250703094700-add-console-settings.sql',
    '20250926112031-console-fine-grained-acl.sql',
    '20251015150737-add-user-notes-audit-acl-templates.sql',
    '20260319134532-add-display-name-index.sql'
]) WITH ORDINALITY AS m (id, n);
