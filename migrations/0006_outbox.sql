-- The outbox: one row per event and recipient (and channel), written in the same transaction as
-- the event, so nothing found can be lost between finding and sending. A sender works from it.
-- migrations 0004 and 0005 belong to other branches; this one is numbered to land after them.
CREATE TABLE deliveries (
    id               INTEGER PRIMARY KEY,
    event_id         INTEGER NOT NULL REFERENCES events (id),
    recipient        TEXT NOT NULL,             -- the address (email) or the address the webhook belongs to
    channel          TEXT NOT NULL CHECK (channel IN ('email', 'webhook')),
    mode             TEXT NOT NULL CHECK (mode IN ('immediate', 'digest')),
    state            TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sent', 'failed')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  TEXT NOT NULL,             -- RFC 3339 UTC; a digest's is its scheduled time
    last_error       TEXT,                      -- the server's reason for the last failure
    message_id       TEXT,                      -- set before the first attempt: a resend is the same message
    sent_at          TEXT,
    created_at       TEXT NOT NULL,
    UNIQUE (event_id, recipient, channel, mode)
);
CREATE INDEX deliveries_pending ON deliveries (next_attempt_at) WHERE state = 'pending';
CREATE INDEX deliveries_message ON deliveries (message_id) WHERE message_id IS NOT NULL;
