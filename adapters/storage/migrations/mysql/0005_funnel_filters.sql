-- leadhatch schema v5 (MySQL/MariaDB): the funnel filtered by source, channel or period reads
-- covering indexes only. The lead indexes that lists walk by (created_at, id) carry the funnel's
-- columns; a finished stage stay carries its lead's source, channel and creation time, set when
-- the stay ends and again when leads merge, so filtered medians need no join.
ALTER TABLE leads
    DROP KEY leads_source,
    DROP KEY leads_created,
    ADD KEY leads_source (source_kind, created_at, id, source_channel, stage, status, max_stage_index, currency,
                          deal_value, merged_into),
    ADD KEY leads_channel (source_channel, created_at, id, source_kind, stage, status, max_stage_index, currency,
                           deal_value, merged_into),
    ADD KEY leads_created (created_at, id, source_kind, source_channel, stage, status, max_stage_index, currency,
                           deal_value, merged_into);

ALTER TABLE stage_history
    ADD COLUMN lead_created_at BIGINT NULL,
    ADD COLUMN source_kind VARCHAR(16) NULL,
    ADD COLUMN source_channel VARCHAR(64) NULL;
UPDATE stage_history h JOIN leads l ON l.id = h.lead_id
   SET h.lead_created_at = l.created_at, h.source_kind = l.source_kind, h.source_channel = l.source_channel
 WHERE h.duration_ms IS NOT NULL;
ALTER TABLE stage_history
    ADD KEY stage_history_source (source_kind, lead_created_at, stage, duration_ms, source_channel),
    ADD KEY stage_history_channel (source_channel, lead_created_at, stage, duration_ms),
    ADD KEY stage_history_created (lead_created_at, stage, duration_ms);
