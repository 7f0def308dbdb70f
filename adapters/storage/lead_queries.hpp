#pragma once

#include <optional>
#include <span>
#include <string>
#include <vector>

#include "adapters/storage/sql_query.hpp"
#include "core/storage/storage.hpp"

// Lead, funnel and scoring queries written once for both dialects (standard SQL with '?'
// placeholders; the few dialect differences are switched on SqlExec::dialect()). Each backend
// runs them on its own connection.
namespace leadhatch::adapters::storage::queries {

std::optional<core::LeadRecord> get_lead(SqlExec& ex, core::LeadId id, bool for_update = false);
core::LeadPage list_leads(SqlExec& ex, const core::LeadFilter& filter, const std::optional<core::LeadCursor>& after,
                          int limit);
std::vector<core::StageHistoryRecord> stage_history(SqlExec& ex, core::LeadId id);
std::vector<core::ScoreEntryRecord> score_entries(SqlExec& ex, core::LeadId id);
std::vector<core::MergeRecord> list_merges(SqlExec& ex, std::optional<std::int64_t> before_id, int limit);
// The funnel in two independent passes a backend may run side by side on two connections:
// counts, reach and pipeline from the leads (median_ms_in_stage left empty), and the median
// finished stay per stage from stage_history.
core::FunnelStats funnel_counts(SqlExec& ex, const core::FunnelQuery& query);
std::vector<std::optional<std::int64_t>> funnel_medians(SqlExec& ex, const core::FunnelQuery& query);
std::vector<core::LeadRecord> leads_with_grade_due(SqlExec& ex, core::Timestamp now, int limit);
std::vector<core::RuleTotal> rule_totals(SqlExec& ex, core::LeadId id, std::span<const std::string> rule_ids);
std::vector<std::pair<core::LeadId, core::RuleTotal>> rule_totals_for(
    SqlExec& ex, std::span<const std::pair<core::LeadId, std::string>> keys);
std::vector<core::LeadId> leads_with_verified(SqlExec& ex, std::string_view phone, std::string_view email,
                                              core::LeadId except);

std::optional<core::Storage::StoredToken> read_token(SqlExec& ex, std::string_view channel_id);
bool lease_token_refresh(SqlExec& ex, std::string_view channel_id, core::Timestamp now, core::Timestamp lease_until);
void store_token(SqlExec& ex, std::string_view channel_id, const std::string& token, core::Timestamp expires_at,
                 core::Timestamp now);

// The part of a WriteSet beyond the inbound hot path: record-changing lead updates, tags, stage
// changes, score entries, rule totals, merges and erasures, in that order.
void apply_extended(SqlExec& ex, const core::WriteSet& w);

}  // namespace leadhatch::adapters::storage::queries
