-- leadhatch schema v1 (SQLite). Times are UTC epoch milliseconds.
CREATE TABLE id_sequences (
    name    TEXT PRIMARY KEY,
    next_id INTEGER NOT NULL
);
INSERT INTO id_sequences (name, next_id) VALUES ('lead', 1);

CREATE TABLE leads (
    id              INTEGER PRIMARY KEY,
    display_name    TEXT NOT NULL DEFAULT '',
    username        TEXT NOT NULL DEFAULT '',
    language        TEXT NOT NULL DEFAULT '',
    phone           TEXT NOT NULL DEFAULT '',
    email           TEXT NOT NULL DEFAULT '',
    company         TEXT NOT NULL DEFAULT '',
    title           TEXT NOT NULL DEFAULT '',
    region          TEXT NOT NULL DEFAULT '',
    industry        TEXT NOT NULL DEFAULT '',
    company_size    INTEGER,
    custom_fields   TEXT NOT NULL DEFAULT '{}',
    tags            TEXT NOT NULL DEFAULT '[]',
    notes           TEXT NOT NULL DEFAULT '',
    owner           TEXT NOT NULL DEFAULT '',
    stage           TEXT NOT NULL DEFAULT 'opportunity',
    stage_changed_at INTEGER NOT NULL,
    status          TEXT NOT NULL DEFAULT 'new',
    lifecycle       TEXT NOT NULL DEFAULT 'acquisition',
    score           INTEGER NOT NULL DEFAULT 0,
    grade           TEXT NOT NULL DEFAULT 'cold',
    deal_value      INTEGER,
    currency        TEXT NOT NULL DEFAULT '',
    lost_reason     TEXT NOT NULL DEFAULT '',
    source_kind     TEXT NOT NULL DEFAULT 'inbound',
    source_channel  TEXT NOT NULL DEFAULT '',
    source_campaign TEXT NOT NULL DEFAULT '',
    source_detail   TEXT NOT NULL DEFAULT '',
    referral_code   TEXT NOT NULL,
    referred_by     INTEGER,
    referral_count  INTEGER NOT NULL DEFAULT 0,
    opted_out       INTEGER NOT NULL DEFAULT 0,
    opted_out_at    INTEGER,
    unreachable     INTEGER NOT NULL DEFAULT 0,
    merged_into     INTEGER,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    last_seen_at    INTEGER
);
CREATE UNIQUE INDEX leads_referral_code ON leads (referral_code);
CREATE INDEX leads_created ON leads (created_at, id);
CREATE INDEX leads_updated ON leads (updated_at, id);
CREATE INDEX leads_stage ON leads (stage, id);

CREATE TABLE lead_identities (
    channel_id       TEXT NOT NULL,
    external_user_id TEXT NOT NULL,
    lead_id          INTEGER NOT NULL,
    display_name     TEXT NOT NULL DEFAULT '',
    username         TEXT NOT NULL DEFAULT '',
    language         TEXT NOT NULL DEFAULT '',
    unreachable      INTEGER NOT NULL DEFAULT 0,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    PRIMARY KEY (channel_id, external_user_id)
) WITHOUT ROWID;
CREATE INDEX lead_identities_lead ON lead_identities (lead_id);

CREATE TABLE events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    lead_id     INTEGER NOT NULL,
    channel_id  TEXT NOT NULL DEFAULT '',
    kind        TEXT NOT NULL,
    actor       TEXT NOT NULL DEFAULT '',
    occurred_at INTEGER NOT NULL,
    recorded_at INTEGER NOT NULL,
    data        TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX events_lead ON events (lead_id, id);

CREATE TABLE lead_touches (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    lead_id       INTEGER NOT NULL,
    channel_id    TEXT NOT NULL DEFAULT '',
    source_kind   TEXT NOT NULL,
    campaign      TEXT NOT NULL DEFAULT '',
    referral_code TEXT NOT NULL DEFAULT '',
    referrer_id   INTEGER,
    detail        TEXT NOT NULL DEFAULT '',
    at            INTEGER NOT NULL
);
CREATE INDEX lead_touches_lead ON lead_touches (lead_id, id);

CREATE TABLE processed_inbound (
    channel_id   TEXT NOT NULL,
    inbound_id   TEXT NOT NULL,
    processed_at INTEGER NOT NULL,
    PRIMARY KEY (channel_id, inbound_id)
) WITHOUT ROWID;

CREATE TABLE chats (
    channel_id TEXT NOT NULL,
    chat_id    TEXT NOT NULL,
    type       TEXT NOT NULL DEFAULT '',
    title      TEXT NOT NULL DEFAULT '',
    bot_member INTEGER NOT NULL DEFAULT 1,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (channel_id, chat_id)
) WITHOUT ROWID;

CREATE TABLE group_members (
    channel_id TEXT NOT NULL,
    chat_id    TEXT NOT NULL,
    lead_id    INTEGER NOT NULL,
    member     INTEGER NOT NULL,
    joined_at  INTEGER,
    left_at    INTEGER,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (channel_id, chat_id, lead_id)
) WITHOUT ROWID;
CREATE INDEX group_members_lead ON group_members (lead_id);

CREATE TABLE outbox (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    channel_id  TEXT NOT NULL,
    idem_key    TEXT NOT NULL,
    lead_id     INTEGER,
    chat_id     TEXT NOT NULL,
    kind        TEXT NOT NULL,
    body        TEXT NOT NULL,
    marketing   INTEGER NOT NULL DEFAULT 0,
    is_group    INTEGER NOT NULL DEFAULT 0,
    status      TEXT NOT NULL DEFAULT 'pending',
    attempts    INTEGER NOT NULL DEFAULT 0,
    due_at      INTEGER NOT NULL,
    lease_until INTEGER NOT NULL DEFAULT 0,
    last_error  TEXT NOT NULL DEFAULT '',
    created_at  INTEGER NOT NULL,
    sent_at     INTEGER
);
CREATE UNIQUE INDEX outbox_idem ON outbox (idem_key);
CREATE INDEX outbox_due ON outbox (status, due_at);
