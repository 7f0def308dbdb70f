-- leadhatch schema v1 (MySQL/MariaDB, InnoDB, utf8mb4). Times are UTC epoch milliseconds.
CREATE TABLE id_sequences (
    name    VARCHAR(64) NOT NULL PRIMARY KEY,
    next_id BIGINT NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
INSERT INTO id_sequences (name, next_id) VALUES ('lead', 1);

CREATE TABLE leads (
    id              BIGINT NOT NULL PRIMARY KEY,
    display_name    VARCHAR(255) NOT NULL DEFAULT '',
    username        VARCHAR(255) NOT NULL DEFAULT '',
    language        VARCHAR(32) NOT NULL DEFAULT '',
    phone           VARCHAR(64) NOT NULL DEFAULT '',
    email           VARCHAR(255) NOT NULL DEFAULT '',
    company         VARCHAR(255) NOT NULL DEFAULT '',
    title           VARCHAR(255) NOT NULL DEFAULT '',
    region          VARCHAR(128) NOT NULL DEFAULT '',
    industry        VARCHAR(128) NOT NULL DEFAULT '',
    company_size    INT NULL,
    custom_fields   TEXT NOT NULL DEFAULT '{}',
    tags            TEXT NOT NULL DEFAULT '[]',
    notes           TEXT NOT NULL DEFAULT '',
    owner           VARCHAR(128) NOT NULL DEFAULT '',
    stage           VARCHAR(32) NOT NULL DEFAULT 'opportunity',
    stage_changed_at BIGINT NOT NULL,
    status          VARCHAR(16) NOT NULL DEFAULT 'new',
    lifecycle       VARCHAR(16) NOT NULL DEFAULT 'acquisition',
    score           BIGINT NOT NULL DEFAULT 0,
    grade           VARCHAR(8) NOT NULL DEFAULT 'cold',
    deal_value      BIGINT NULL,
    currency        VARCHAR(8) NOT NULL DEFAULT '',
    lost_reason     VARCHAR(255) NOT NULL DEFAULT '',
    source_kind     VARCHAR(16) NOT NULL DEFAULT 'inbound',
    source_channel  VARCHAR(64) NOT NULL DEFAULT '',
    source_campaign VARCHAR(128) NOT NULL DEFAULT '',
    source_detail   VARCHAR(255) NOT NULL DEFAULT '',
    referral_code   VARCHAR(32) NOT NULL,
    referred_by     BIGINT NULL,
    referral_count  INT NOT NULL DEFAULT 0,
    opted_out       TINYINT NOT NULL DEFAULT 0,
    opted_out_at    BIGINT NULL,
    unreachable     TINYINT NOT NULL DEFAULT 0,
    merged_into     BIGINT NULL,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    last_seen_at    BIGINT NULL,
    UNIQUE KEY leads_referral_code (referral_code),
    KEY leads_created (created_at, id),
    KEY leads_updated (updated_at, id),
    KEY leads_stage (stage, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE lead_identities (
    channel_id       VARCHAR(64) NOT NULL,
    external_user_id VARCHAR(128) NOT NULL,
    lead_id          BIGINT NOT NULL,
    display_name     VARCHAR(255) NOT NULL DEFAULT '',
    username         VARCHAR(255) NOT NULL DEFAULT '',
    language         VARCHAR(32) NOT NULL DEFAULT '',
    unreachable      TINYINT NOT NULL DEFAULT 0,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    PRIMARY KEY (channel_id, external_user_id),
    KEY lead_identities_lead (lead_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE events (
    id          BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    lead_id     BIGINT NOT NULL,
    channel_id  VARCHAR(64) NOT NULL DEFAULT '',
    kind        VARCHAR(32) NOT NULL,
    actor       VARCHAR(128) NOT NULL DEFAULT '',
    occurred_at BIGINT NOT NULL,
    recorded_at BIGINT NOT NULL,
    data        MEDIUMTEXT NOT NULL DEFAULT '{}',
    KEY events_lead (lead_id, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE lead_touches (
    id            BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    lead_id       BIGINT NOT NULL,
    channel_id    VARCHAR(64) NOT NULL DEFAULT '',
    source_kind   VARCHAR(16) NOT NULL,
    campaign      VARCHAR(128) NOT NULL DEFAULT '',
    referral_code VARCHAR(32) NOT NULL DEFAULT '',
    referrer_id   BIGINT NULL,
    detail        VARCHAR(255) NOT NULL DEFAULT '',
    at            BIGINT NOT NULL,
    KEY lead_touches_lead (lead_id, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE processed_inbound (
    channel_id   VARCHAR(64) NOT NULL,
    inbound_id   VARCHAR(191) NOT NULL,
    processed_at BIGINT NOT NULL,
    PRIMARY KEY (channel_id, inbound_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE chats (
    channel_id VARCHAR(64) NOT NULL,
    chat_id    VARCHAR(128) NOT NULL,
    type       VARCHAR(16) NOT NULL DEFAULT '',
    title      VARCHAR(255) NOT NULL DEFAULT '',
    bot_member TINYINT NOT NULL DEFAULT 1,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (channel_id, chat_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE group_members (
    channel_id VARCHAR(64) NOT NULL,
    chat_id    VARCHAR(128) NOT NULL,
    lead_id    BIGINT NOT NULL,
    member     TINYINT NOT NULL,
    joined_at  BIGINT NULL,
    left_at    BIGINT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (channel_id, chat_id, lead_id),
    KEY group_members_lead (lead_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE outbox (
    id          BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    channel_id  VARCHAR(64) NOT NULL,
    idem_key    VARCHAR(191) NOT NULL,
    lead_id     BIGINT NULL,
    chat_id     VARCHAR(128) NOT NULL,
    kind        VARCHAR(32) NOT NULL,
    body        MEDIUMTEXT NOT NULL,
    marketing   TINYINT NOT NULL DEFAULT 0,
    is_group    TINYINT NOT NULL DEFAULT 0,
    status      VARCHAR(16) NOT NULL DEFAULT 'pending',
    attempts    INT NOT NULL DEFAULT 0,
    due_at      BIGINT NOT NULL,
    lease_until BIGINT NOT NULL DEFAULT 0,
    last_error  VARCHAR(1024) NOT NULL DEFAULT '',
    created_at  BIGINT NOT NULL,
    sent_at     BIGINT NULL,
    UNIQUE KEY outbox_idem (idem_key),
    KEY outbox_due (status, due_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
