-- PostgreSQL schema of the vote & chat stack (database "vote"). Applied by build.sh up; idempotent.
CREATE TABLE IF NOT EXISTS users (
    username      text PRIMARY KEY,
    password_hash text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS messages (
    id           text PRIMARY KEY,            -- ULID from the edge: replays conflict here
    conversation text NOT NULL,
    sender       text NOT NULL,
    recipient    text NOT NULL,
    body         text NOT NULL,
    received_at  timestamptz NOT NULL,
    stored_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS messages_conv_id ON messages (conversation, id DESC);
CREATE INDEX IF NOT EXISTS messages_recipient_id ON messages (recipient, id);
-- The chat sink's Kafka position, written in the same transaction as the rows it covers.
CREATE TABLE IF NOT EXISTS sink_offsets (
    topic       text,
    partition   int,
    next_offset bigint NOT NULL,
    PRIMARY KEY (topic, partition)
);
CREATE TABLE IF NOT EXISTS conversation_reads (
    username     text,
    peer         text,
    last_read_id text NOT NULL,
    PRIMARY KEY (username, peer)
);
