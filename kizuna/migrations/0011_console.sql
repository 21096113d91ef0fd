-- The admin console (issue 17): its audit log, what each node reports of itself for the status
-- page, a record of every backup for the upgrade-health page, and the client SDKs seen recently.
-- New tables and one new column with a default only: nodes of the previous release keep serving
-- (their registry writes leave `stats` at its default).
-- Down drops the console's history (audit log, backup record, client versions seen); the backups
-- themselves are files and stay where they are.
-- The client versions seen and the nodes' reported figures are refilled by traffic: a down may
-- drop them without --force. The audit log and the backup record are history: losing them needs it.
-- +kizuna phase: expand
-- +kizuna disposable: kizuna_client_seen, kizuna_node.stats
-- +migrate Up
-- As Nakama's table of the same name (a Kizuna console has one operator account, from
-- console.username: console_user_id is NULL and email '').
CREATE TABLE console_audit_log (
    create_time      TIMESTAMPTZ NOT NULL DEFAULT now(),
    id               UUID        NOT NULL UNIQUE,
    console_user_id  UUID,
    console_username TEXT        NOT NULL,
    email            TEXT        NOT NULL DEFAULT '',
    action           TEXT        NOT NULL,
    resource         TEXT        NOT NULL,
    message          TEXT        NOT NULL,
    metadata         JSONB,
    PRIMARY KEY (create_time, console_username, action, resource, id)
);
CREATE INDEX console_audit_log_time_idx ON console_audit_log (create_time DESC, id);

-- What the node publishes with each heartbeat: sockets, presences, matches, request rate and
-- latency, commit, schema (the console's status page reads every node's row).
ALTER TABLE kizuna_node ADD COLUMN stats JSONB NOT NULL DEFAULT '{}';

-- One row per backup Kizuna writes (`kizuna backup`, the automatic ones before migrate,
-- `kizuna db upgrade` and `kizuna import`).
CREATE TABLE kizuna_backup_log (
    id             UUID         NOT NULL PRIMARY KEY,
    create_time    TIMESTAMPTZ  NOT NULL DEFAULT now(),
    kind           VARCHAR(16)  NOT NULL,           -- 'manual' or 'automatic'
    reason         TEXT         NOT NULL DEFAULT '',
    path           TEXT         NOT NULL,
    host           TEXT         NOT NULL DEFAULT '',
    size_bytes     BIGINT       NOT NULL DEFAULT 0,
    schema_head    TEXT         NOT NULL DEFAULT '',
    kizuna_version TEXT         NOT NULL DEFAULT ''
);
CREATE INDEX kizuna_backup_log_time_idx ON kizuna_backup_log (kind, create_time DESC);

-- Client SDKs and versions seen by the nodes (from the User-Agent of requests and sockets),
-- one row per SDK and version, merged by every node's heartbeat.
CREATE TABLE kizuna_client_seen (
    sdk        VARCHAR(128) NOT NULL,
    version    VARCHAR(64)  NOT NULL,
    user_agent TEXT         NOT NULL DEFAULT '',
    first_seen TIMESTAMPTZ  NOT NULL DEFAULT now(),
    last_seen  TIMESTAMPTZ  NOT NULL DEFAULT now(),
    requests   BIGINT       NOT NULL DEFAULT 0,
    PRIMARY KEY (sdk, version)
);
CREATE INDEX kizuna_client_seen_last_idx ON kizuna_client_seen (last_seen DESC);

-- +migrate Down
DROP TABLE kizuna_client_seen;
DROP TABLE kizuna_backup_log;
ALTER TABLE kizuna_node DROP COLUMN stats;
DROP TABLE console_audit_log;
