-- The storage engine: JSON objects per (collection, key, owner), with permissions and versions.
-- +kizuna phase: expand
-- +migrate Up
CREATE TABLE storage (
    collection  VARCHAR(128) NOT NULL,
    key         VARCHAR(128) NOT NULL,
    user_id     UUID         NOT NULL,
    value       JSONB        NOT NULL DEFAULT '{}',
    version     VARCHAR(32)  NOT NULL,
    read        SMALLINT     NOT NULL DEFAULT 1,
    write       SMALLINT     NOT NULL DEFAULT 1,
    create_time TIMESTAMPTZ  NOT NULL DEFAULT now(),
    update_time TIMESTAMPTZ  NOT NULL DEFAULT now(),
    CONSTRAINT storage_pkey PRIMARY KEY (collection, key, user_id),
    CONSTRAINT storage_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE,
    CONSTRAINT storage_read_check CHECK (read >= 0),
    CONSTRAINT storage_write_check CHECK (write >= 0)
);
-- Listing public objects of a collection, and one owner's objects, in key order.
CREATE INDEX collection_read_key_user_id_idx ON storage (collection, read, key, user_id);
CREATE INDEX collection_user_id_read_key_idx ON storage (collection, user_id, read, key);
CREATE INDEX storage_user_id_idx ON storage (user_id);

-- +migrate Down
DROP TABLE storage;
