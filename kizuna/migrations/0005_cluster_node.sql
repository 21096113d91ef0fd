-- Nodes register here (name, release, heartbeat) so that a contract migration can refuse to run
-- while a node of an older release still serves, and operators can see who is alive.
-- +kizuna phase: expand
-- +migrate Up
CREATE TABLE kizuna_node (
    name           VARCHAR(64)  PRIMARY KEY,
    version        VARCHAR(64)  NOT NULL,
    schema_oldest  VARCHAR(128) NOT NULL DEFAULT '',
    schema_newest  VARCHAR(128) NOT NULL DEFAULT '',
    address        VARCHAR(255) NOT NULL DEFAULT '',
    state          VARCHAR(16)  NOT NULL DEFAULT 'serving',
    started_at     TIMESTAMPTZ  NOT NULL DEFAULT now(),
    heartbeat_at   TIMESTAMPTZ  NOT NULL DEFAULT now()
);

-- +migrate Down
DROP TABLE kizuna_node;
