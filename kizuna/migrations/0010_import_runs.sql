-- Runs of `kizuna import nakama`: which Nakama database was copied in, when, in which mode and
-- with what result. A later run from the same source reads it to know it is a catch-up (the
-- target mirrors that source) rather than a merge into unrelated data. New table only: nodes of
-- the previous release keep serving while this runs.
-- +kizuna phase: expand
-- +migrate Up
CREATE TABLE kizuna_import (
    id             UUID        NOT NULL,
    source_kind    VARCHAR(32) NOT NULL,
    source_id      TEXT        NOT NULL,
    source_address TEXT        NOT NULL,
    source_schema  TEXT        NOT NULL,
    mode           VARCHAR(16) NOT NULL,
    status         VARCHAR(16) NOT NULL,
    snapshot_time  TIMESTAMPTZ NOT NULL,
    start_time     TIMESTAMPTZ NOT NULL DEFAULT now(),
    end_time       TIMESTAMPTZ,
    kizuna_version TEXT        NOT NULL,
    stats          JSONB       NOT NULL DEFAULT '{}',
    CONSTRAINT kizuna_import_pkey PRIMARY KEY (id)
);
CREATE INDEX kizuna_import_source_idx ON kizuna_import (source_kind, source_id, start_time);

-- +migrate Down
DROP TABLE kizuna_import;
