-- leadhatch schema v3 (MySQL/MariaDB): platform access tokens shared by every process of a deployment.
CREATE TABLE access_tokens (
    channel_id  VARCHAR(64) NOT NULL PRIMARY KEY,
    token       VARCHAR(1024) NOT NULL DEFAULT '',
    expires_at  BIGINT NOT NULL DEFAULT 0,
    lease_until BIGINT NOT NULL DEFAULT 0,
    updated_at  BIGINT NOT NULL DEFAULT 0
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- The funnel counts every lead by stage, status, furthest stage and open deal value: one pass over
-- this covering index instead of the table.
ALTER TABLE leads ADD KEY leads_funnel (stage, status, max_stage_index, currency, deal_value, merged_into);
