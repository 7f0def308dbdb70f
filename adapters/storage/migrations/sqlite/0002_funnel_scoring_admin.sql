-- leadhatch schema v2 (SQLite): funnel stages and history, scoring, segments, tags, merges, erasure.
ALTER TABLE leads DROP COLUMN tags;
ALTER TABLE leads ADD COLUMN segment TEXT NOT NULL DEFAULT 'unknown';
ALTER TABLE leads ADD COLUMN max_stage_index INTEGER NOT NULL DEFAULT 0;
ALTER TABLE leads ADD COLUMN status_changed_at INTEGER;
ALTER TABLE leads ADD COLUMN demographic_score INTEGER NOT NULL DEFAULT 0;
ALTER TABLE leads ADD COLUMN behavioral_score REAL NOT NULL DEFAULT 0;
ALTER TABLE leads ADD COLUMN score_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE leads ADD COLUMN grade_expires_at INTEGER;
ALTER TABLE leads ADD COLUMN phone_verified INTEGER NOT NULL DEFAULT 0;
ALTER TABLE leads ADD COLUMN email_verified INTEGER NOT NULL DEFAULT 0;
ALTER TABLE leads ADD COLUMN erased_at INTEGER;

DROP INDEX leads_stage;
CREATE INDEX leads_stage ON leads (stage, created_at, id);
CREATE INDEX leads_status ON leads (status, created_at, id);
CREATE INDEX leads_grade ON leads (grade, created_at, id);
CREATE INDEX leads_owner ON leads (owner, created_at, id);
CREATE INDEX leads_segment ON leads (segment, created_at, id);
CREATE INDEX leads_source ON leads (source_kind, created_at, id);
CREATE INDEX leads_grade_due ON leads (grade_expires_at);
CREATE INDEX leads_phone ON leads (phone);
CREATE INDEX leads_email ON leads (email);

-- created_at is the lead's (it never changes): lists filtered by tag walk (tag, created_at, id).
CREATE TABLE lead_tags (
    lead_id    INTEGER NOT NULL,
    tag        TEXT NOT NULL,
    created_at INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (lead_id, tag)
) WITHOUT ROWID;
CREATE INDEX lead_tags_tag ON lead_tags (tag, created_at, lead_id);

CREATE TABLE stage_history (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    lead_id     INTEGER NOT NULL,
    stage       TEXT NOT NULL,
    entered_at  INTEGER NOT NULL,
    left_at     INTEGER,
    duration_ms INTEGER,
    actor       TEXT NOT NULL DEFAULT '',
    reason      TEXT NOT NULL DEFAULT ''
);
CREATE INDEX stage_history_lead ON stage_history (lead_id, id);
CREATE INDEX stage_history_stage ON stage_history (stage, duration_ms);
INSERT INTO stage_history (lead_id, stage, entered_at, actor, reason)
    SELECT id, stage, stage_changed_at, 'system', 'migration' FROM leads;

CREATE TABLE score_entries (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    lead_id    INTEGER NOT NULL,
    rule_id    TEXT NOT NULL,
    points     INTEGER NOT NULL,
    reason     TEXT NOT NULL DEFAULT '',
    behavioral INTEGER NOT NULL DEFAULT 1,
    at         INTEGER NOT NULL
);
CREATE INDEX score_entries_lead ON score_entries (lead_id, id);

CREATE TABLE lead_rule_totals (
    lead_id       INTEGER NOT NULL,
    rule_id       TEXT NOT NULL,
    total         INTEGER NOT NULL,
    period_start  INTEGER NOT NULL,
    period_points INTEGER NOT NULL,
    PRIMARY KEY (lead_id, rule_id)
) WITHOUT ROWID;

CREATE TABLE lead_merges (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    source_id INTEGER NOT NULL,
    target_id INTEGER NOT NULL,
    actor     TEXT NOT NULL DEFAULT '',
    reason    TEXT NOT NULL DEFAULT '',
    snapshot  TEXT NOT NULL DEFAULT '{}',
    at        INTEGER NOT NULL
);
CREATE INDEX lead_merges_target ON lead_merges (target_id);
CREATE INDEX lead_merges_source ON lead_merges (source_id);

CREATE INDEX processed_inbound_at ON processed_inbound (processed_at);
