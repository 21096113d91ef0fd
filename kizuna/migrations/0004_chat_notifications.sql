-- Chat history (message) and notifications (notification), with Nakama's table shapes.
-- +kizuna phase: expand
-- +migrate Up
CREATE TABLE message (
    id                UUID         NOT NULL,
    -- 0 chat, 1 update, 2 remove, 3 group_join, 4 group_add, 5 group_leave, 6 group_kick,
    -- 7 group_promote, 8 group_ban, 9 group_demote.
    code              SMALLINT     NOT NULL DEFAULT 0,
    sender_id         UUID         NOT NULL,
    username          VARCHAR(128) NOT NULL,
    -- The channel's stream: 2 room (label = room name), 3 group (subject = group id),
    -- 4 direct message (subject and descriptor = the two user ids, smaller first).
    -- Unused parts hold the nil UUID or ''.
    stream_mode       SMALLINT     NOT NULL,
    stream_subject    UUID         NOT NULL,
    stream_descriptor UUID         NOT NULL,
    stream_label      VARCHAR(128) NOT NULL,
    content           JSONB        NOT NULL DEFAULT '{}',
    create_time       TIMESTAMPTZ  NOT NULL DEFAULT now(),
    update_time       TIMESTAMPTZ  NOT NULL DEFAULT now(),
    -- History pages walk a channel in (create_time, id) order: the primary key serves them.
    CONSTRAINT message_pkey PRIMARY KEY (stream_mode, stream_subject, stream_descriptor, stream_label, create_time, id),
    CONSTRAINT message_id_key UNIQUE (id),
    CONSTRAINT message_sender_id_id_key UNIQUE (sender_id, id),
    CONSTRAINT message_sender_id_fkey FOREIGN KEY (sender_id) REFERENCES users (id) ON DELETE CASCADE
);

CREATE TABLE notification (
    id          UUID         NOT NULL,
    user_id     UUID         NOT NULL,
    subject     VARCHAR(255) NOT NULL,
    content     JSONB        NOT NULL DEFAULT '{}',
    -- Negative codes are reserved: -1 DM request, -2 friend request, -3 friend accept, -4 group add,
    -- -5 group join request, -6 friend joined game, -7 single-socket kick, -8 banned, -9 friend remove.
    code        SMALLINT     NOT NULL,
    -- The nil UUID when the server sent it.
    sender_id   UUID         NOT NULL,
    create_time TIMESTAMPTZ  NOT NULL DEFAULT now(),
    CONSTRAINT notification_pkey PRIMARY KEY (user_id, create_time, id),
    CONSTRAINT notification_id_key UNIQUE (id),
    CONSTRAINT notification_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
);

-- +migrate Down
DROP TABLE notification;
DROP TABLE message;
