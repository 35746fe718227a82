-- stack/schema.sql - PostgreSQL schema of docs/CONTRACT.md (database vote, user vote).
-- Idempotent: build.sh up applies it on every start. Tests apply it inside their own schema
-- (SET search_path first), so no object here is schema-qualified.
CREATE TABLE IF NOT EXISTS users (
    username text PRIMARY KEY,
    password_hash text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS messages (
    id text PRIMARY KEY,
    conversation text NOT NULL,
    sender text NOT NULL,
    recipient text NOT NULL,
    body text NOT NULL,
    received_at timestamptz NOT NULL,
    stored_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS messages_conv_id ON messages (conversation, id DESC);
CREATE INDEX IF NOT EXISTS messages_recipient_id ON messages (recipient, id);
-- Written by the chat sink in the same transaction as the messages it covers.
CREATE TABLE IF NOT EXISTS sink_offsets (
    topic text,
    partition int,
    next_offset bigint NOT NULL,
    PRIMARY KEY (topic, partition)
);
CREATE TABLE IF NOT EXISTS conversation_reads (
    username text,
    peer text,
    last_read_id text NOT NULL,
    PRIMARY KEY (username, peer)
);
-- The api lists a user's conversations from the messages they sent and received.
CREATE INDEX IF NOT EXISTS messages_sender_id ON messages (sender, id);
