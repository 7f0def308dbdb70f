#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/storage/storage.hpp"

namespace sql {
class Connection;
}

namespace leadhatch::adapters::storage {

struct MysqlOptions {
    std::string host = "127.0.0.1";
    int port = 3306;
    std::string user;
    std::string password;
    std::string database;
    int pool_size = 8;
    int connect_timeout_s = 3;
    int io_timeout_s = 30;
    std::chrono::milliseconds checkout_timeout{5000};
};

// Storage on MySQL/MariaDB through Connector/C++ 1.1 (legacy JDBC-style API).
//
// Connections come from a bounded pool. Auto-reconnect stays off (it would silently drop an open
// transaction); instead a connection that fails with a "server gone" error is thrown away together
// with every idle one (they died with the same server), and the next checkout connects afresh.
// Reads are retried once on a fresh connection; writes report kUnavailable and are retried by
// their caller (a webhook answers 503 and the platform redelivers).
//
// Writes go to the server as multi-row statements sent together in one round trip.
// Thread-safety: all public methods.
class MysqlStorage final : public core::Storage {
public:
    explicit MysqlStorage(MysqlOptions options);
    ~MysqlStorage() override;

    std::string_view backend() const override { return "mysql"; }
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

    class Conn;

private:
    class Lease;
    class Tx;

    Lease acquire();
    std::unique_ptr<Conn> connect();
    void release(std::unique_ptr<Conn> conn, bool broken);
    // Runs fn(conn) and, when the connection turns out dead, once more on a fresh one.
    template <class Fn>
    auto with_retry(Fn&& fn);

    MysqlOptions options_;
    mutable std::mutex mu_;
    std::condition_variable cv_;
    std::vector<std::unique_ptr<Conn>> idle_;
    int open_ = 0;
    int in_use_ = 0;
    std::int64_t waits_ = 0;
    std::uint64_t generation_ = 0;  // bumped when the server went away: older connections are dropped
};

}  // namespace leadhatch::adapters::storage
