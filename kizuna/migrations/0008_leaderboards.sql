-- Leaderboards and tournaments (one table, as Nakama keeps them) and their records, with Nakama's
-- table shapes so that an import from Nakama copies rows as they are. A tournament is a leaderboard
-- row with a duration > 0. Records are kept per period: expiry_time is the end of the period a
-- record belongs to (the epoch: the record never expires). New tables only: nodes of the previous
-- release keep serving while this runs.
-- +kizuna phase: expand
-- +migrate Up
CREATE TABLE leaderboard (
    id             VARCHAR(128) NOT NULL,
    authoritative  BOOLEAN      NOT NULL DEFAULT FALSE,
    -- 0 ascending (lower is better), 1 descending.
    sort_order     SMALLINT     NOT NULL DEFAULT 1,
    -- 0 best, 1 set, 2 increment, 3 decrement.
    operator       SMALLINT     NOT NULL DEFAULT 0,
    -- A CRON expression; NULL: never resets.
    reset_schedule VARCHAR(64),
    metadata       JSONB        NOT NULL DEFAULT '{}',
    create_time    TIMESTAMPTZ  NOT NULL DEFAULT now(),
    -- Tournaments only (duration > 0).
    category       SMALLINT     NOT NULL DEFAULT 0 CHECK (category >= 0),
    description    VARCHAR(255) NOT NULL DEFAULT '',
    duration       INT          NOT NULL DEFAULT 0 CHECK (duration >= 0),
    end_time       TIMESTAMPTZ  NOT NULL DEFAULT '1970-01-01 00:00:00 UTC',
    join_required  BOOLEAN      NOT NULL DEFAULT FALSE,
    max_size       INT          NOT NULL DEFAULT 100000000 CHECK (max_size > 0),
    max_num_score  INT          NOT NULL DEFAULT 1000000 CHECK (max_num_score > 0),
    title          VARCHAR(255) NOT NULL DEFAULT '',
    -- Players who joined (or wrote to) the current period of a tournament.
    size           INT          NOT NULL DEFAULT 0 CHECK (size >= 0),
    start_time     TIMESTAMPTZ  NOT NULL DEFAULT now(),
    enable_ranks   BOOLEAN               DEFAULT TRUE,
    CONSTRAINT leaderboard_pkey PRIMARY KEY (id)
);
CREATE INDEX duration_start_time_end_time_category_idx
    ON leaderboard (duration, start_time, end_time DESC, category);
CREATE INDEX leaderboard_create_time_id_idx ON leaderboard (create_time, id);

CREATE TABLE leaderboard_record (
    leaderboard_id VARCHAR(128) NOT NULL,
    owner_id       UUID         NOT NULL,
    username       VARCHAR(128),
    score          BIGINT       NOT NULL DEFAULT 0 CHECK (score >= 0),
    subscore       BIGINT       NOT NULL DEFAULT 0 CHECK (subscore >= 0),
    num_score      INT          NOT NULL DEFAULT 1 CHECK (num_score >= 0),
    max_num_score  INT          NOT NULL DEFAULT 1000000 CHECK (max_num_score > 0),
    metadata       JSONB        NOT NULL DEFAULT '{}',
    create_time    TIMESTAMPTZ  NOT NULL DEFAULT now(),
    update_time    TIMESTAMPTZ  NOT NULL DEFAULT now(),
    expiry_time    TIMESTAMPTZ  NOT NULL DEFAULT '1970-01-01 00:00:00 UTC',
    CONSTRAINT leaderboard_record_pkey PRIMARY KEY (leaderboard_id, expiry_time, score, subscore, owner_id),
    CONSTRAINT leaderboard_record_owner_id_leaderboard_id_expiry_time_key
        UNIQUE (owner_id, leaderboard_id, expiry_time),
    CONSTRAINT leaderboard_record_leaderboard_id_fkey FOREIGN KEY (leaderboard_id)
        REFERENCES leaderboard (id) ON DELETE CASCADE
);
CREATE INDEX owner_id_expiry_time_leaderboard_id_idx
    ON leaderboard_record (owner_id, expiry_time, leaderboard_id);

-- Kizuna's own: the period ends whose server callbacks (leaderboard reset, tournament end and
-- reset) have run. The node that inserts the row runs the callback, so each runs once per cluster.
CREATE TABLE kizuna_leaderboard_event (
    leaderboard_id VARCHAR(128) NOT NULL,
    kind           VARCHAR(32)  NOT NULL,
    event_time     TIMESTAMPTZ  NOT NULL,
    create_time    TIMESTAMPTZ  NOT NULL DEFAULT now(),
    CONSTRAINT kizuna_leaderboard_event_pkey PRIMARY KEY (leaderboard_id, kind, event_time)
);

-- +migrate Down
DROP TABLE kizuna_leaderboard_event;
DROP TABLE leaderboard_record;
DROP TABLE leaderboard;
