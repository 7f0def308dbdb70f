-- leadhatch schema v3 (SQLite): platform access tokens shared by every process of a deployment.
CREATE TABLE access_tokens (
    channel_id  TEXT PRIMARY KEY,
    token       TEXT NOT NULL DEFAULT '',
    expires_at  INTEGER NOT NULL DEFAULT 0,
    lease_until INTEGER NOT NULL DEFAULT 0,
    updated_at  INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;

-- The funnel counts every lead by stage, status, furthest stage and open deal value: one pass over
-- this covering index instead of the table.
CREATE INDEX leads_funnel ON leads (stage, status, max_stage_index, currency, deal_value, merged_into);
