-- The wallet ledger: one row per wallet change made with update_ledger, in Nakama's table shape so
-- that an import from Nakama copies rows as they are. The balances themselves live in
-- users.wallet (0001). New table only: nodes of the previous release keep serving while this runs.
-- +kizuna phase: expand
-- +migrate Up
CREATE TABLE wallet_ledger (
    id          UUID        NOT NULL,
    user_id     UUID        NOT NULL,
    changeset   JSONB       NOT NULL,
    metadata    JSONB       NOT NULL,
    create_time TIMESTAMPTZ NOT NULL DEFAULT now(),
    update_time TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT wallet_ledger_pkey PRIMARY KEY (user_id, create_time, id),
    CONSTRAINT wallet_ledger_id_key UNIQUE (id),
    CONSTRAINT wallet_ledger_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
);

-- +migrate Down
DROP TABLE wallet_ledger;
