#pragma once

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/storage/lead_state_cache.hpp"
#include "core/storage/storage.hpp"

namespace leadhatch::adapters::storage {

class SqliteDb;

struct SqliteOptions {
    std::string path;  // a file path, or ":memory:"
    int busy_timeout_ms = 5000;
    int max_readers = 4;
};

// Storage on SQLite in WAL mode. One writer connection (writes are serialised by SQLite anyway;
// the ingest path groups concurrent requests into one transaction) and a small pool of reader
// connections. ":memory:" uses the single connection for everything.
// Thread-safety: all public methods; the writer is guarded by write_mu_, readers by readers_mu_.
class SqliteStorage final : public core::Storage {
public:
    explicit SqliteStorage(SqliteOptions options);
    ~SqliteStorage() override;

    std::string_view backend() const override { return "sqlite"; }
    void migrate() override;
    int schema_version() override;
    bool ping() override;
    core::PoolStats pool_stats() const override;
    core::IdRange reserve_ids(std::string_view sequence, std::int64_t count) override;
    std::unique_ptr<core::WriteTx> begin_write() override;

    std::optional<core::LeadRecord> get_lead(core::LeadId id) override;
    std::optional<core::LeadId> find_lead_by_identity(const core::IdentityKey& key) override;
    std::vector<core::EventRecord> list_events(core::LeadId lead, std::optional<core::EventId> before_id,
                                               int limit) override;
    std::vector<core::MembershipRecord> list_memberships(core::LeadId lead) override;
    std::vector<core::TouchRecord> list_touches(core::LeadId lead) override;
    core::LeadPage list_leads(const core::LeadFilter& filter, const std::optional<core::LeadCursor>& after,
                              int limit) override;
    std::vector<core::StageHistoryRecord> stage_history(core::LeadId lead) override;
    std::vector<core::ScoreEntryRecord> score_entries(core::LeadId lead) override;
    std::vector<core::MergeRecord> list_merges(std::optional<std::int64_t> before_id, int limit) override;
    core::FunnelStats funnel(const core::FunnelQuery& query) override;
    std::vector<core::LeadRecord> leads_with_grade_due(core::Timestamp now, int limit) override;
    std::int64_t prune_processed(core::Timestamp before, int limit) override;
    std::optional<StoredToken> read_token(std::string_view channel_id) override;
    bool lease_token_refresh(std::string_view channel_id, core::Timestamp now, core::Timestamp lease_until) override;
    void store_token(std::string_view channel_id, const std::string& token, core::Timestamp expires_at,
                     core::Timestamp now) override;

    std::vector<core::OutboxRecord> claim_outbox(core::Timestamp now, core::Timestamp lease_until,
                                                 int limit) override;
    void complete_outbox(std::span<const core::OutboxResult> results, const core::WriteSet& writes,
                         core::Timestamp now) override;
    std::optional<core::Timestamp> next_outbox_due() override;
    core::OutboxCounts outbox_counts() override;
    std::vector<core::OutboxRecord> list_outbox(std::optional<core::OutboxStatus> status, int limit) override;

private:
    class Tx;
    class ReadLease;
    ReadLease read();

    SqliteOptions options_;
    bool memory_ = false;
    std::mutex write_mu_;
    std::unique_ptr<SqliteDb> writer_;
    mutable std::mutex readers_mu_;
    std::condition_variable readers_cv_;
    std::vector<std::unique_ptr<SqliteDb>> idle_readers_;
    int readers_open_ = 0;
    int readers_in_use_ = 0;
    // The write transactions' cache of lead state (Tx), valid while the database's data version
    // is the one its last commit left; guarded by write_mu_.
    core::LeadStateCache cache_;
    std::uint32_t cache_version_ = 0;
    bool check_cache_ = false;
};

}  // namespace leadhatch::adapters::storage
