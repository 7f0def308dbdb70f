-- leadhatch schema v5 (SQLite): the funnel filtered by source, channel or period reads covering
-- indexes only. The lead indexes that lists walk by (created_at, id) carry the funnel's columns;
-- a finished stage stay carries its lead's source, channel and creation time, set when the stay
-- ends and again when leads merge, so filtered medians need no join.
DROP INDEX leads_source;
CREATE INDEX leads_source ON leads (source_kind, created_at, id, source_channel, stage, status, max_stage_index,
                                    currency, deal_value, merged_into);
CREATE INDEX leads_channel ON leads (source_channel, created_at, id, source_kind, stage, status, max_stage_index,
                                     currency, deal_value, merged_into);
DROP INDEX leads_created;
CREATE INDEX leads_created ON leads (created_at, id, source_kind, source_channel, stage, status, max_stage_index,
                                     currency, deal_value, merged_into);

ALTER TABLE stage_history ADD COLUMN lead_created_at INTEGER;
ALTER TABLE stage_history ADD COLUMN source_kind TEXT;
ALTER TABLE stage_history ADD COLUMN source_channel TEXT;
UPDATE stage_history
   SET lead_created_at = (SELECT l.created_at FROM leads l WHERE l.id = stage_history.lead_id),
       source_kind = (SELECT l.source_kind FROM leads l WHERE l.id = stage_history.lead_id),
       source_channel = (SELECT l.source_channel FROM leads l WHERE l.id = stage_history.lead_id)
 WHERE duration_ms IS NOT NULL;
CREATE INDEX stage_history_source ON stage_history (source_kind, lead_created_at, stage, duration_ms, source_channel);
CREATE INDEX stage_history_channel ON stage_history (source_channel, lead_created_at, stage, duration_ms);
CREATE INDEX stage_history_created ON stage_history (lead_created_at, stage, duration_ms);
