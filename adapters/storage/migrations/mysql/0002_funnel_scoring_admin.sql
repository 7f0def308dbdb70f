-- leadhatch schema v2 (MySQL/MariaDB): funnel stages and history, scoring, segments, tags, merges, erasure.
ALTER TABLE leads
    DROP COLUMN tags,
    ADD COLUMN segment VARCHAR(64) NOT NULL DEFAULT 'unknown',
    ADD COLUMN max_stage_index INT NOT NULL DEFAULT 0,
    ADD COLUMN status_changed_at BIGINT NULL,
    ADD COLUMN demographic_score BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN behavioral_score DOUBLE NOT NULL DEFAULT 0,
    ADD COLUMN score_at BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN grade_expires_at BIGINT NULL,
    ADD COLUMN phone_verified TINYINT NOT NULL DEFAULT 0,
    ADD COLUMN email_verified TINYINT NOT NULL DEFAULT 0,
    ADD COLUMN erased_at BIGINT NULL,
    DROP INDEX leads_stage,
    ADD KEY leads_stage (stage, created_at, id),
    ADD KEY leads_status (status, created_at, id),
    ADD KEY leads_grade (grade, created_at, id),
    ADD KEY leads_owner (owner, created_at, id),
    ADD KEY leads_segment (segment, created_at, id),
    ADD KEY leads_source (source_kind, created_at, id),
    ADD KEY leads_grade_due (grade_expires_at),
    ADD KEY leads_phone (phone),
    ADD KEY leads_email (email);

-- created_at is the lead's (it never changes): lists filtered by tag walk (tag, created_at, id).
CREATE TABLE lead_tags (
    lead_id    BIGINT NOT NULL,
    tag        VARCHAR(64) NOT NULL,
    created_at BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (lead_id, tag),
    KEY lead_tags_tag (tag, created_at, lead_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE stage_history (
    id          BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    lead_id     BIGINT NOT NULL,
    stage       VARCHAR(32) NOT NULL,
    entered_at  BIGINT NOT NULL,
    left_at     BIGINT NULL,
    duration_ms BIGINT NULL,
    actor       VARCHAR(128) NOT NULL DEFAULT '',
    reason      VARCHAR(255) NOT NULL DEFAULT '',
    KEY stage_history_lead (lead_id, id),
    KEY stage_history_stage (stage, duration_ms)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
INSERT INTO stage_history (lead_id, stage, entered_at, actor, reason)
    SELECT id, stage, stage_changed_at, 'system', 'migration' FROM leads;

CREATE TABLE score_entries (
    id         BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    lead_id    BIGINT NOT NULL,
    rule_id    VARCHAR(64) NOT NULL,
    points     INT NOT NULL,
    reason     VARCHAR(255) NOT NULL DEFAULT '',
    behavioral TINYINT NOT NULL DEFAULT 1,
    at         BIGINT NOT NULL,
    KEY score_entries_lead (lead_id, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE lead_rule_totals (
    lead_id       BIGINT NOT NULL,
    rule_id       VARCHAR(64) NOT NULL,
    total         BIGINT NOT NULL,
    period_start  BIGINT NOT NULL,
    period_points BIGINT NOT NULL,
    PRIMARY KEY (lead_id, rule_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE lead_merges (
    id        BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    source_id BIGINT NOT NULL,
    target_id BIGINT NOT NULL,
    actor     VARCHAR(128) NOT NULL DEFAULT '',
    reason    VARCHAR(255) NOT NULL DEFAULT '',
    snapshot  MEDIUMTEXT NOT NULL,
    at        BIGINT NOT NULL,
    KEY lead_merges_target (target_id),
    KEY lead_merges_source (source_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

ALTER TABLE processed_inbound ADD KEY processed_inbound_at (processed_at);
