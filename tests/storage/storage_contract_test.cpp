// One conformance suite for every storage backend: SQLite (a WAL file) always, MariaDB when
// LEADHATCH_TEST_MYSQL_URL is set (under CI=true a missing URL is a failure, not a skip).
#include <gtest/gtest.h>

#include <atomic>
#include <barrier>
#include <map>
#include <set>
#include <thread>

#include "adapters/storage/migrations.hpp"
#include "adapters/storage/storage_factory.hpp"
#include "core/error.hpp"
#include "core/leads/referral.hpp"
#include "core/storage/storage.hpp"
#include "tests/support/test_db.hpp"

namespace leadhatch {
namespace {

using core::LeadId;
using core::Timestamp;
using core::from_epoch_ms;

struct SqliteBackend {
    static constexpr const char* kName = "sqlite";
    testing::TempDir dir;
    std::unique_ptr<core::Storage> make() {
        adapters::storage::StorageUrl u;
        u.sqlite_path = (dir.path() / "test.db").string();
        return adapters::storage::make_storage(u, {});
    }
    std::string raw_count(const std::string&) { return {}; }
};

struct MysqlBackend {
    static constexpr const char* kName = "mysql";
    std::unique_ptr<testing::MysqlTestDatabase> db;
    MysqlBackend() {
        if (auto url = testing::mysql_url()) db = std::make_unique<testing::MysqlTestDatabase>(*url);
    }
    std::unique_ptr<core::Storage> make() { return adapters::storage::make_storage(db->parsed(), {}); }
};

template <class Backend>
class StorageContract : public ::testing::Test {
protected:
    void SetUp() override {
        if constexpr (std::is_same_v<Backend, MysqlBackend>) {
            if (!testing::mysql_url()) {
                if (testing::in_ci()) FAIL() << "CI=true but LEADHATCH_TEST_MYSQL_URL is not set";
                GTEST_SKIP() << "LEADHATCH_TEST_MYSQL_URL not set";
            }
        }
        backend_ = std::make_unique<Backend>();
        storage_ = backend_->make();
        storage_->migrate();
    }

    core::WriteSet new_lead(LeadId id, const std::string& channel, const std::string& user, const std::string& name) {
        core::WriteSet w;
        w.now = t0_;
        core::LeadRow l;
        l.id = id;
        l.display_name = name;
        l.referral_code = core::referral_code(id);
        l.source_channel = channel;
        l.created_at = t0_;
        w.new_leads.push_back(l);
        w.new_identities.push_back(core::IdentityRow{{channel, user}, id, name, "", "en", t0_});
        return w;
    }

    void commit(const core::WriteSet& w) {
        auto tx = storage_->begin_write();
        tx->apply(w);
        tx->commit();
    }

    Timestamp t0_ = from_epoch_ms(1'700'000'000'000);
    std::unique_ptr<Backend> backend_;
    std::unique_ptr<core::Storage> storage_;
};

using Backends = ::testing::Types<SqliteBackend, MysqlBackend>;
struct BackendNames {
    template <class T>
    static std::string GetName(int) {
        return T::kName;
    }
};
TYPED_TEST_SUITE(StorageContract, Backends, BackendNames);

TYPED_TEST(StorageContract, Migrates_FromEmpty_AndAgainIdempotently) {
    const auto& all = adapters::storage::sqlite_migrations();
    EXPECT_EQ(this->storage_->schema_version(), all.back().version);
    this->storage_->migrate();
    this->storage_->migrate();
    EXPECT_EQ(this->storage_->schema_version(), all.back().version);
    // A second instance on the same database sees the schema and migrates nothing.
    auto again = this->backend_->make();
    again->migrate();
    EXPECT_EQ(again->schema_version(), all.back().version);
    EXPECT_TRUE(again->ping());
}

TYPED_TEST(StorageContract, ReservesDisjointIdBlocks_UnderConcurrency) {
    std::vector<std::thread> threads;
    std::mutex mu;
    std::set<std::int64_t> seen;
    std::atomic<int> overlaps{0};
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&] {
            for (int i = 0; i < 20; ++i) {
                auto r = this->storage_->reserve_ids("lead", 10);
                EXPECT_EQ(r.count, 10);
                std::lock_guard lk(mu);
                for (std::int64_t id = r.first; id < r.first + r.count; ++id) {
                    if (!seen.insert(id).second) ++overlaps;
                }
            }
        });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(overlaps.load(), 0);
    EXPECT_EQ(seen.size(), 800u);
    EXPECT_GE(*seen.begin(), 1);
}

TYPED_TEST(StorageContract, CommitsAWriteSet_AndReadsItBack) {
    auto w = this->new_lead(LeadId{7}, "tg", "1001", "张伟 🚀");
    w.processed.push_back({"tg", "update-1"});
    w.events.push_back(core::EventRow{LeadId{7}, "tg", "message", "user", this->t0_, R"({"text":"你好"})"});
    w.events.push_back(core::EventRow{LeadId{7}, "tg", "command", "user", this->t0_, R"({"command":"start"})"});
    w.touches.push_back(core::TouchRow{LeadId{7}, "tg", "campaign", "spring", "", {}, "src_spring", this->t0_});
    this->commit(w);

    auto lead = this->storage_->get_lead(LeadId{7});
    ASSERT_TRUE(lead);
    EXPECT_EQ(lead->display_name, "张伟 🚀");
    EXPECT_EQ(lead->stage, "opportunity");
    EXPECT_EQ(lead->status, "new");
    EXPECT_EQ(lead->referral_code, core::referral_code(LeadId{7}));
    ASSERT_EQ(lead->identities.size(), 1u);
    EXPECT_EQ(lead->identities[0].external_user_id, "1001");
    EXPECT_EQ(this->storage_->find_lead_by_identity({"tg", "1001"}), LeadId{7});
    EXPECT_FALSE(this->storage_->find_lead_by_identity({"tg", "1002"}));

    auto events = this->storage_->list_events(LeadId{7}, std::nullopt, 10);
    ASSERT_EQ(events.size(), 2u);
    EXPECT_EQ(events[0].kind, "command");  // newest first
    EXPECT_EQ(events[1].data, R"({"text":"你好"})");
    auto older = this->storage_->list_events(LeadId{7}, events[0].id, 10);
    ASSERT_EQ(older.size(), 1u);
    EXPECT_EQ(older[0].kind, "message");
    ASSERT_EQ(this->storage_->list_touches(LeadId{7}).size(), 1u);

    auto tx = this->storage_->begin_write();
    std::vector<core::InboundKey> keys{{"tg", "update-1"}, {"tg", "update-2"}, {"other", "update-1"}};
    auto found = tx->find_processed(keys);
    ASSERT_EQ(found.size(), 1u);
    EXPECT_EQ(found[0].inbound_id, "update-1");
    std::vector<core::IdentityKey> ids{{"tg", "1001"}, {"tg", "9"}};
    auto identities = tx->find_identities(ids);
    ASSERT_EQ(identities.size(), 1u);
    EXPECT_EQ(identities[0].lead_id, LeadId{7});
    EXPECT_FALSE(identities[0].lead_opted_out);
    EXPECT_TRUE(tx->lead_exists(LeadId{7}));
    EXPECT_FALSE(tx->lead_exists(LeadId{8}));
}

// The inbound pipeline scores from what the identity lookup returns, and writes grade and
// grade_expires_at only when they differ from it: both must come back as stored.
TYPED_TEST(StorageContract, FindIdentities_ReturnsTheLeadsScoreStateWithGradeExpiry) {
    this->commit(this->new_lead(LeadId{3}, "tg", "303", "Cai"));
    const auto expiry = this->t0_ + std::chrono::hours{30};
    core::WriteSet w;
    w.now = this->t0_;
    core::LeadUpdate u;
    u.id = LeadId{3};
    u.at = this->t0_;
    u.score = 41;
    u.grade = "warm";
    u.behavioral_score = 41.5;
    u.score_at = this->t0_;
    u.grade_expires_at = std::optional<core::Timestamp>(expiry);
    w.lead_updates.push_back(u);
    this->commit(w);

    std::vector<core::IdentityKey> keys{{"tg", "303"}};
    {
        auto tx = this->storage_->begin_write();
        auto ids = tx->find_identities(keys);
        ASSERT_EQ(ids.size(), 1u);
        EXPECT_EQ(ids[0].score, 41);
        EXPECT_EQ(ids[0].grade, "warm");
        EXPECT_DOUBLE_EQ(ids[0].behavioral_score, 41.5);
        EXPECT_EQ(ids[0].score_at, this->t0_);
        EXPECT_EQ(ids[0].grade_expires_at, std::optional<core::Timestamp>(expiry));
    }
    core::WriteSet clear;
    clear.now = this->t0_;
    core::LeadUpdate c;
    c.id = LeadId{3};
    c.at = this->t0_;
    c.grade_expires_at = std::optional<core::Timestamp>();
    clear.lead_updates.push_back(c);
    this->commit(clear);
    auto tx = this->storage_->begin_write();
    auto ids = tx->find_identities(keys);
    ASSERT_EQ(ids.size(), 1u);
    EXPECT_FALSE(ids[0].grade_expires_at);
    // The combined lookup (one round trip on MySQL) returns the same.
    std::vector<core::InboundKey> none;
    auto known = tx->find_known(none, keys, {});
    ASSERT_EQ(known.identities.size(), 1u);
    EXPECT_FALSE(known.identities[0].grade_expires_at);
    EXPECT_EQ(known.identities[0].grade, "warm");
}

// What a write transaction reads is what the database holds, whichever way it got there: its own
// earlier commits, a rolled-back transaction (nothing), another connection (another process), or
// another write path of the same storage. (SQLite's writer keeps what it wrote: this is what keeps
// that cache honest.)
TYPED_TEST(StorageContract, WriteReads_SeeEveryCommittedChange_AndNoRolledBackOne) {
    auto w = this->new_lead(LeadId{31}, "tg", "3101", "Ann");
    w.rule_totals = {{LeadId{31}, "pricing", 10, this->t0_, 10}};
    this->commit(w);
    const std::vector<core::IdentityKey> key{{"tg", "3101"}};
    const std::vector<std::pair<LeadId, std::string>> pairs{{LeadId{31}, "pricing"}, {LeadId{31}, "demo"}};
    const auto read = [&] {
        auto tx = this->storage_->begin_write();
        auto ids = tx->find_identities(key);
        EXPECT_EQ(ids.size(), 1u);
        auto totals = tx->rule_totals_for(pairs);
        std::map<std::string, std::int64_t> by_rule;
        for (const auto& [lead, t] : totals) by_rule[t.rule_id] = t.total;
        tx->commit();
        return std::pair{ids.empty() ? core::IdentityRecord{} : ids[0], by_rule};
    };
    // Read once (a cache fills), then change every field the pipeline reads.
    EXPECT_EQ(read().first.score, 0);
    {
        auto tx = this->storage_->begin_write();
        ASSERT_EQ(tx->find_identities(key).size(), 1u);
        ASSERT_EQ(tx->rule_totals_for(pairs).size(), 1u);
        core::WriteSet c;
        c.now = this->t0_;
        core::LeadUpdate u;
        u.id = LeadId{31};
        u.at = this->t0_;
        u.stage = "demo";
        u.status = "contacted";
        u.lifecycle = "development";
        u.score = 42;
        u.grade = "warm";
        u.demographic_score = 12;
        u.behavioral_score = 30.5;
        u.score_at = this->t0_ + std::chrono::minutes(1);
        u.grade_expires_at = std::optional<Timestamp>(this->t0_ + std::chrono::hours(5));
        c.lead_updates.push_back(u);
        core::LeadUpdate opt;
        opt.id = LeadId{31};
        opt.at = this->t0_;
        opt.opted_out = true;
        c.lead_updates.push_back(opt);
        core::IdentityUpdate i;
        i.key = key[0];
        i.display_name = "Ann B";
        i.language = "zh-CN";
        i.menu = "1:help";
        i.at = this->t0_;
        c.identity_updates.push_back(i);
        c.rule_totals = {{LeadId{31}, "pricing", 15, this->t0_, 15}, {LeadId{31}, "demo", 20, this->t0_, 20}};
        tx->apply(c);
        tx->commit();
    }
    auto [r, totals] = read();
    EXPECT_EQ(r.stage, "demo");
    EXPECT_EQ(r.status, "contacted");
    EXPECT_EQ(r.lifecycle, "development");
    EXPECT_EQ(r.score, 42);
    EXPECT_EQ(r.grade, "warm");
    EXPECT_EQ(r.demographic_score, 12);
    EXPECT_EQ(r.behavioral_score, 30.5);
    EXPECT_EQ(r.score_at, this->t0_ + std::chrono::minutes(1));
    EXPECT_EQ(r.grade_expires_at, this->t0_ + std::chrono::hours(5));
    EXPECT_TRUE(r.lead_opted_out);
    EXPECT_EQ(r.display_name, "Ann B");
    EXPECT_EQ(r.username, "");  // unset: kept
    EXPECT_EQ(r.language, "zh-CN");
    EXPECT_EQ(r.menu, "1:help");
    EXPECT_EQ(totals, (std::map<std::string, std::int64_t>{{"pricing", 15}, {"demo", 20}}));

    // Rolled back: nothing of it is read afterwards.
    {
        auto tx = this->storage_->begin_write();
        ASSERT_EQ(tx->find_identities(key).size(), 1u);
        core::WriteSet c;
        c.now = this->t0_;
        core::LeadUpdate u;
        u.id = LeadId{31};
        u.at = this->t0_;
        u.score = 99;
        c.lead_updates.push_back(u);
        c.rule_totals = {{LeadId{31}, "pricing", 99, this->t0_, 99}};
        tx->apply(c);
    }
    std::tie(r, totals) = read();
    EXPECT_EQ(r.score, 42);
    EXPECT_EQ(totals.at("pricing"), 15);

    // Another connection to the same database (another process) commits.
    {
        auto other = this->backend_->make();
        auto tx = other->begin_write();
        core::WriteSet c;
        c.now = this->t0_;
        core::LeadUpdate u;
        u.id = LeadId{31};
        u.at = this->t0_;
        u.score = 77;
        u.grade = "hot";
        c.lead_updates.push_back(u);
        c.rule_totals = {{LeadId{31}, "demo", 25, this->t0_, 25}};
        tx->apply(c);
        tx->commit();
    }
    std::tie(r, totals) = read();
    EXPECT_EQ(r.score, 77);
    EXPECT_EQ(r.grade, "hot");
    EXPECT_EQ(totals.at("demo"), 25);

    // Another write path of the same storage: a delivery report that finds the user gone.
    {
        core::WriteSet c;
        c.now = this->t0_;
        core::IdentityUpdate i;
        i.key = key[0];
        i.unreachable = true;
        i.at = this->t0_;
        c.identity_updates.push_back(i);
        this->storage_->complete_outbox({}, c, this->t0_);
    }
    EXPECT_TRUE(read().first.unreachable);
}

// A batch starts with one lookup (one round trip on MySQL): which deliveries were processed, the
// senders' identities, and their leads' totals for the rules the batch's events match.
TYPED_TEST(StorageContract, FindKnown_ReturnsProcessedIdentitiesAndTheirLeadsRuleTotals) {
    auto w = this->new_lead(LeadId{21}, "tg", "2101", "A");
    auto w2 = this->new_lead(LeadId{22}, "tg", "2202", "B");
    w.new_leads.push_back(w2.new_leads[0]);
    w.new_identities.push_back(w2.new_identities[0]);
    w.new_leads.push_back(this->new_lead(LeadId{23}, "tg", "2303", "C").new_leads[0]);  // not asked about
    w.processed.push_back({"tg", "u-1"});
    const Timestamp p1 = this->t0_ - std::chrono::hours(2);
    w.rule_totals = {{LeadId{21}, "pricing", 10, p1, 10}, {LeadId{21}, "demo", 15, this->t0_, 15},
                     {LeadId{22}, "pricing", 20, this->t0_, 10}, {LeadId{22}, "other", 5, this->t0_, 5},
                     {LeadId{23}, "pricing", 30, this->t0_, 10}};
    this->commit(w);

    auto tx = this->storage_->begin_write();
    const std::vector<core::InboundKey> inbound{{"tg", "u-1"}, {"tg", "u-2"}};
    const std::vector<core::IdentityKey> keys{{"tg", "2101"}, {"tg", "2202"}, {"tg", "9999"}};
    // The senders' rules: 2101 matched pricing and demo, 2202 pricing (twice) and a rule without
    // a row, 9999 (unknown) pricing.
    const std::vector<core::RuleAsk> asks{{0, "pricing"}, {0, "demo"}, {1, "pricing"},
                                          {1, "nothing"}, {2, "pricing"}, {1, "pricing"}};
    auto known = tx->find_known(inbound, keys, asks);
    ASSERT_EQ(known.processed.size(), 1u);
    EXPECT_EQ(known.processed[0].inbound_id, "u-1");
    ASSERT_EQ(known.identities.size(), 2u);
    std::map<std::pair<std::int64_t, std::string>, core::RuleTotal> totals;
    for (const auto& [lead, t] : known.rule_totals) totals.emplace(std::pair{lead.value, t.rule_id}, t);
    ASSERT_EQ(totals.size(), 3u);
    const auto& a = totals.at({21, "pricing"});
    EXPECT_EQ(a.total, 10);
    EXPECT_EQ(a.period_start, p1);
    EXPECT_EQ(a.period_points, 10);
    EXPECT_EQ(totals.at({21, "demo"}).total, 15);
    EXPECT_EQ(totals.at({22, "pricing"}).total, 20);
    EXPECT_EQ(totals.at({22, "pricing"}).period_points, 10);

    auto none = tx->find_known(inbound, keys, {});
    EXPECT_TRUE(none.rule_totals.empty());
    EXPECT_EQ(none.identities.size(), 2u);

    // Only the pairs asked: 2101 asks for demo only this time, so lead 21's pricing total is not
    // read back, though both rules are asked for by someone.
    const std::vector<core::RuleAsk> narrow{{0, "demo"}, {1, "pricing"}};
    auto exact = tx->find_known(inbound, keys, narrow);
    std::set<std::pair<std::int64_t, std::string>> got;
    for (const auto& [lead, t] : exact.rule_totals) got.emplace(lead.value, t.rule_id);
    EXPECT_EQ(got, (std::set<std::pair<std::int64_t, std::string>>{{21, "demo"}, {22, "pricing"}}));
    EXPECT_EQ(exact.rule_totals.size(), 2u);
}

// A grouped commit writes many rows of one kind at once (SQLite: INSERTs of up to 16 rows): every
// row lands, in the order given, with its own values, across whole and partial groups.
TYPED_TEST(StorageContract, WritesManyEventsAndDeliveriesOfOneBatchInOrder) {
    this->commit(this->new_lead(LeadId{4}, "tg", "404", "Dee"));
    core::WriteSet w;
    w.now = this->t0_;
    constexpr int kRows = 37;  // 16 + 16 + 5
    std::vector<core::InboundKey> keys;
    for (int i = 0; i < kRows; ++i) {
        w.events.push_back(core::EventRow{LeadId{4}, "tg", "message", "user", this->t0_ + std::chrono::seconds(i),
                                          "{\"n\":" + std::to_string(i) + "}"});
        w.processed.push_back({"tg", "batch-" + std::to_string(i)});
        keys.push_back({"tg", "batch-" + std::to_string(i)});
    }
    this->commit(w);
    auto events = this->storage_->list_events(LeadId{4}, std::nullopt, 100);
    ASSERT_EQ(events.size(), static_cast<std::size_t>(kRows));
    for (int i = 0; i < kRows; ++i) {
        const auto& e = events[static_cast<std::size_t>(kRows - 1 - i)];  // newest first
        EXPECT_EQ(e.data, "{\"n\":" + std::to_string(i) + "}");
        EXPECT_EQ(e.occurred_at, this->t0_ + std::chrono::seconds(i));
    }
    auto tx = this->storage_->begin_write();
    EXPECT_EQ(tx->find_processed(keys).size(), static_cast<std::size_t>(kRows));
}

// Text reaches MySQL as escaped literals: every byte the escaping touches, quotes that would end
// the literal, backslashes before them, multi-byte UTF-8 and an emoji come back unchanged.
TYPED_TEST(StorageContract, StoresHostileTextExactly) {
    const std::string nasty = std::string("a\0b", 3) + "\n\r\\'\"\x1a" + "'); DROP TABLE leads; -- \\' \\\\' 价格 😀 \\";
    this->commit(this->new_lead(LeadId{6}, "tg", "606", nasty));
    core::WriteSet w;
    w.now = this->t0_;
    w.events.push_back(core::EventRow{LeadId{6}, "tg", "message", "user", this->t0_, nasty});
    w.processed.push_back({"tg", nasty});
    this->commit(w);
    const auto lead = this->storage_->get_lead(LeadId{6});
    ASSERT_TRUE(lead);
    EXPECT_EQ(lead->display_name, nasty);
    const auto events = this->storage_->list_events(LeadId{6}, std::nullopt, 10);
    ASSERT_EQ(events.size(), 1u);
    EXPECT_EQ(events[0].data, nasty);
    auto tx = this->storage_->begin_write();
    std::vector<core::InboundKey> keys{{"tg", nasty}};
    ASSERT_EQ(tx->find_processed(keys).size(), 1u);
    std::vector<core::IdentityKey> ids{{"tg", "606"}};
    const auto found = tx->find_identities(ids);
    ASSERT_EQ(found.size(), 1u);
    EXPECT_EQ(found[0].display_name, nasty);
}

// Score entries and rule totals of a batch are also written many rows per statement; totals are
// upserts: a second batch updates the rows the first inserted and inserts the rest.
TYPED_TEST(StorageContract, WritesManyScoreEntriesAndUpsertsRuleTotals) {
    this->commit(this->new_lead(LeadId{5}, "tg", "505", "Eli"));
    auto batch = [&](int rules, int base) {
        core::WriteSet w;
        w.now = this->t0_;
        for (int i = 0; i < rules; ++i) {
            const std::string rule = "rule_" + std::to_string(i);
            w.score_entries.push_back(
                core::ScoreEntryRow{LeadId{5}, rule, base + i, "reason " + std::to_string(i), true, this->t0_});
            w.rule_totals.push_back(core::RuleTotalRow{LeadId{5}, rule, base + i, this->t0_, i});
        }
        this->commit(w);
    };
    batch(20, 100);  // 16 + 4
    batch(35, 200);  // 20 updated, 15 inserted
    const auto entries = this->storage_->score_entries(LeadId{5});
    ASSERT_EQ(entries.size(), 55u);
    int sum = 0;
    for (const auto& e : entries) sum += e.points;
    EXPECT_EQ(sum, (100 * 20 + 190) + (200 * 35 + 595));
    std::vector<std::string> ids;
    for (int i = 0; i < 35; ++i) ids.push_back("rule_" + std::to_string(i));
    auto tx = this->storage_->begin_write();
    const auto totals = tx->rule_totals(LeadId{5}, ids);
    ASSERT_EQ(totals.size(), 35u);
    for (const auto& t : totals) {
        const int i = std::stoi(t.rule_id.substr(5));
        EXPECT_EQ(t.total, 200 + i) << t.rule_id;
        EXPECT_EQ(t.period_points, i) << t.rule_id;
    }
}

TYPED_TEST(StorageContract, RollsBack_WhenNotCommitted) {
    {
        auto tx = this->storage_->begin_write();
        tx->apply(this->new_lead(LeadId{1}, "tg", "1", "Ann"));
    }  // destroyed without commit
    EXPECT_FALSE(this->storage_->get_lead(LeadId{1}));
    EXPECT_FALSE(this->storage_->find_lead_by_identity({"tg", "1"}));
}

TYPED_TEST(StorageContract, RollsBack_EverythingWhenOneRowFails) {
    this->commit(this->new_lead(LeadId{1}, "tg", "1", "Ann"));
    auto w = this->new_lead(LeadId{2}, "tg", "2", "Bob");
    w.events.push_back(core::EventRow{LeadId{2}, "tg", "message", "user", this->t0_, "{}"});
    w.processed.push_back({"tg", "u-9"});
    // The same identity as lead 1: violates uniqueness after the other rows were written.
    w.new_identities.push_back(core::IdentityRow{{"tg", "1"}, LeadId{2}, "Bob", "", "", this->t0_});
    try {
        auto tx = this->storage_->begin_write();
        tx->apply(w);
        tx->commit();
        FAIL() << "expected a conflict";
    } catch (const core::StorageError& e) {
        EXPECT_EQ(e.kind(), core::StorageErrorKind::kConflict) << e.what();
    }
    EXPECT_FALSE(this->storage_->get_lead(LeadId{2}));
    EXPECT_FALSE(this->storage_->find_lead_by_identity({"tg", "2"}));
    EXPECT_TRUE(this->storage_->list_events(LeadId{2}, std::nullopt, 10).empty());
    auto tx = this->storage_->begin_write();
    std::vector<core::InboundKey> k{{"tg", "u-9"}};
    EXPECT_TRUE(tx->find_processed(k).empty());
    // The storage is still usable after the failure.
    tx.reset();
    this->commit(this->new_lead(LeadId{3}, "tg", "3", "Cy"));
    EXPECT_TRUE(this->storage_->get_lead(LeadId{3}));
}

TYPED_TEST(StorageContract, KeepsIdentityUnique_UnderConcurrentInserts) {
    constexpr int kThreads = 6;
    std::atomic<int> committed{0};
    std::atomic<int> conflicts{0};
    std::atomic<int> other{0};
    std::barrier start(kThreads);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&, t] {
            auto w = this->new_lead(LeadId{100 + t}, "tg", "same-user", "U" + std::to_string(t));
            start.arrive_and_wait();
            try {
                auto tx = this->storage_->begin_write();
                tx->apply(w);
                tx->commit();
                ++committed;
            } catch (const core::StorageError& e) {
                (e.kind() == core::StorageErrorKind::kConflict ? conflicts : other)++;
            }
        });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(committed.load(), 1);
    EXPECT_EQ(conflicts.load(), kThreads - 1);
    EXPECT_EQ(other.load(), 0);
    auto winner = this->storage_->find_lead_by_identity({"tg", "same-user"});
    ASSERT_TRUE(winner);
    int leads = 0;
    for (int t = 0; t < kThreads; ++t) leads += this->storage_->get_lead(LeadId{100 + t}) ? 1 : 0;
    EXPECT_EQ(leads, 1);  // the losers' lead rows rolled back with their identities
    EXPECT_TRUE(this->storage_->get_lead(*winner));
}

TYPED_TEST(StorageContract, UpdatesLeadsAndIdentities_AndRecomputesUnreachable) {
    auto w = this->new_lead(LeadId{5}, "tg", "55", "Eve");
    w.new_identities.push_back(core::IdentityRow{{"wx", "o55"}, LeadId{5}, "Eve", "", "", this->t0_});
    this->commit(w);

    core::WriteSet u;
    u.now = this->t0_ + std::chrono::seconds(5);
    core::LeadUpdate lu;
    lu.id = LeadId{5};
    lu.opted_out = true;
    lu.phone = "+8613800000000";
    lu.last_seen_at = u.now;
    lu.at = u.now;
    u.lead_updates.push_back(lu);
    core::IdentityUpdate iu;
    iu.key = {"tg", "55"};
    iu.unreachable = true;
    iu.display_name = "Eve Z";
    iu.at = u.now;
    u.identity_updates.push_back(iu);
    this->commit(u);

    auto lead = this->storage_->get_lead(LeadId{5});
    ASSERT_TRUE(lead);
    EXPECT_TRUE(lead->opted_out);
    EXPECT_EQ(lead->phone, "+8613800000000");
    EXPECT_FALSE(lead->unreachable);  // still reachable on wx
    ASSERT_TRUE(lead->last_seen_at);
    EXPECT_EQ(*lead->last_seen_at, u.now);

    core::WriteSet u2;
    u2.now = u.now;
    core::IdentityUpdate iu2;
    iu2.key = {"wx", "o55"};
    iu2.unreachable = true;
    iu2.at = u.now;
    u2.identity_updates.push_back(iu2);
    this->commit(u2);
    EXPECT_TRUE(this->storage_->get_lead(LeadId{5})->unreachable);  // no identity left to reach

    auto tx = this->storage_->begin_write();
    std::vector<core::IdentityKey> keys{{"tg", "55"}};
    auto ids = tx->find_identities(keys);
    ASSERT_EQ(ids.size(), 1u);
    EXPECT_TRUE(ids[0].unreachable);
    EXPECT_TRUE(ids[0].lead_opted_out);
    EXPECT_EQ(ids[0].display_name, "Eve Z");
}

TYPED_TEST(StorageContract, WritesANewLeadWithTheStateItsBatchGaveIt) {
    auto w = this->new_lead(LeadId{9}, "tg", "909", "Nia");
    core::LeadRow& l = w.new_leads[0];
    l.owner = "alice";
    l.status = "engaged";
    l.status_changed_at = this->t0_ + std::chrono::seconds(1);
    l.lifecycle = "development";
    l.score = 27;
    l.grade = "warm";
    l.demographic_score = 10;
    l.behavioral_score = 17.25;
    l.score_at = this->t0_ - std::chrono::seconds(3);
    l.grade_expires_at = this->t0_ + std::chrono::hours(72);
    l.last_seen_at = this->t0_ + std::chrono::seconds(2);
    l.updated_at = this->t0_ + std::chrono::seconds(1);
    this->commit(w);
    this->commit(this->new_lead(LeadId{10}, "tg", "910", "Plain"));

    auto lead = this->storage_->get_lead(LeadId{9});
    ASSERT_TRUE(lead);
    EXPECT_EQ(lead->owner, "alice");
    EXPECT_EQ(lead->status, "engaged");
    EXPECT_EQ(lead->status_changed_at, l.status_changed_at);
    EXPECT_EQ(lead->lifecycle, "development");
    EXPECT_EQ(lead->score, 27);
    EXPECT_EQ(lead->grade, "warm");
    EXPECT_EQ(lead->demographic_score, 10);
    EXPECT_DOUBLE_EQ(lead->behavioral_score, 17.25);
    EXPECT_EQ(lead->score_at, l.score_at);
    EXPECT_EQ(lead->grade_expires_at, l.grade_expires_at);
    EXPECT_EQ(lead->last_seen_at, l.last_seen_at);
    EXPECT_EQ(lead->updated_at, *l.updated_at);
    EXPECT_EQ(lead->created_at, this->t0_);
    // The scheduler finds it by its grade expiry like any other lead.
    auto due = this->storage_->leads_with_grade_due(this->t0_ + std::chrono::hours(73), 10);
    ASSERT_EQ(due.size(), 1u);
    EXPECT_EQ(due[0].id, LeadId{9});

    auto plain = this->storage_->get_lead(LeadId{10});  // the defaults, as the schema has them
    ASSERT_TRUE(plain);
    EXPECT_EQ(plain->status, "new");
    EXPECT_EQ(plain->lifecycle, "acquisition");
    EXPECT_EQ(plain->grade, "cold");
    EXPECT_EQ(plain->score, 0);
    EXPECT_FALSE(plain->status_changed_at);
    EXPECT_FALSE(plain->grade_expires_at);
    EXPECT_EQ(plain->last_seen_at, std::optional<Timestamp>(this->t0_));
    EXPECT_EQ(plain->updated_at, this->t0_);
}

// A server database writes the lead updates of a batch as shared statements (one per shape of
// update, up to a bound): every lead must end exactly as the updates applied one by one would leave it.
TYPED_TEST(StorageContract, AppliesManyLeadUpdatesOfOneBatch_AsIfOneByOne) {
    constexpr int kLeads = 40;  // more than one shared statement holds
    core::WriteSet create;
    create.now = this->t0_;
    for (int i = 1; i <= kLeads; ++i) {
        auto w = this->new_lead(LeadId{i}, "tg", std::to_string(1000 + i), "L" + std::to_string(i));
        create.new_leads.push_back(w.new_leads[0]);
        create.new_identities.push_back(w.new_identities[0]);
    }
    this->commit(create);
    {
        // Lead 4 was seen later than the batch below will say.
        core::WriteSet seen;
        core::LeadUpdate s;
        s.id = LeadId{4};
        s.last_seen_at = this->t0_ + std::chrono::hours(1);
        s.at = this->t0_;
        s.display_name = "L4";
        seen.lead_updates.push_back(s);
        this->commit(seen);
    }

    const Timestamp at = this->t0_ + std::chrono::minutes(1);
    core::WriteSet w;
    w.now = at;
    auto scored = [&](int id, std::int64_t score, Timestamp when) {
        core::LeadUpdate u;
        u.id = LeadId{id};
        u.score = score;
        u.behavioral_score = static_cast<double>(score) + 0.5;
        u.score_at = when;
        u.status = "engaged";
        u.last_seen_at = when;
        u.at = when;
        return u;
    };
    for (int i = 1; i <= kLeads; ++i) w.lead_updates.push_back(scored(i, 10 * i, at + std::chrono::milliseconds(i % 3)));
    w.lead_updates.push_back(scored(35, 999, at + std::chrono::seconds(2)));  // lead 35 again, in the last statement
    core::LeadUpdate graded;
    graded.id = LeadId{5};
    graded.grade = "hot";
    graded.grade_expires_at = std::optional<Timestamp>(at + std::chrono::hours(24));
    graded.company_size = std::optional<std::int64_t>(50);
    graded.at = at;
    core::LeadUpdate ungraded = graded;
    ungraded.id = LeadId{6};
    ungraded.grade = "cold";
    ungraded.grade_expires_at = std::optional<Timestamp>();  // NULL
    ungraded.company_size = std::optional<std::int64_t>();    // NULL
    w.lead_updates.push_back(graded);
    w.lead_updates.push_back(ungraded);
    for (int id : {7, 8}) {
        core::LeadUpdate u;
        u.id = LeadId{id};
        u.opted_out = true;
        u.owner = "sales-" + std::to_string(id);
        u.referral_count_delta = id - 6;
        u.at = at;
        w.lead_updates.push_back(u);
    }
    core::LeadUpdate renamed = scored(35, 5, at);  // lead 35 a third time, another shape, last
    renamed.notes = "it's \"quoted\"";
    w.lead_updates.push_back(renamed);
    this->commit(w);

    for (int i = 1; i <= kLeads; ++i) {
        SCOPED_TRACE("lead " + std::to_string(i));
        auto l = this->storage_->get_lead(LeadId{i});
        ASSERT_TRUE(l);
        const std::int64_t score = i == 35 ? 5 : 10 * i;
        const Timestamp when = i == 35 ? at : at + std::chrono::milliseconds(i % 3);
        EXPECT_EQ(l->score, score);
        EXPECT_DOUBLE_EQ(l->behavioral_score, static_cast<double>(score) + 0.5);
        EXPECT_EQ(l->score_at, when);
        EXPECT_EQ(l->status, "engaged");
        EXPECT_EQ(l->display_name, "L" + std::to_string(i));
        ASSERT_TRUE(l->last_seen_at);
        if (i == 35) {
            EXPECT_EQ(*l->last_seen_at, at + std::chrono::seconds(2));  // never moves back
        } else if (i == 4) {
            EXPECT_EQ(*l->last_seen_at, this->t0_ + std::chrono::hours(1));
        } else {
            EXPECT_EQ(*l->last_seen_at, when);
        }
        EXPECT_EQ(l->notes, i == 35 ? "it's \"quoted\"" : "");
        EXPECT_EQ(l->opted_out, i == 7 || i == 8);
        EXPECT_EQ(l->owner, i == 7 || i == 8 ? "sales-" + std::to_string(i) : "");
        EXPECT_EQ(l->referral_count, i == 7 ? 1 : i == 8 ? 2 : 0);
        EXPECT_EQ(l->grade, i == 5 ? "hot" : "cold");  // new leads are cold
        EXPECT_EQ(l->grade_expires_at, i == 5 ? std::optional<Timestamp>(at + std::chrono::hours(24)) : std::nullopt);
        EXPECT_EQ(l->company_size, i == 5 ? std::optional<std::int64_t>(50) : std::nullopt);
        EXPECT_EQ(l->updated_at, i >= 5 && i <= 8 ? at : when);  // the lead's last update's time
    }
}

TYPED_TEST(StorageContract, RecordsGroupMembership_JoinLeaveRejoin) {
    this->commit(this->new_lead(LeadId{9}, "tg", "9", "Gus"));
    auto at = [&](int s) { return this->t0_ + std::chrono::seconds(s); };
    for (auto [member, s] : std::vector<std::pair<bool, int>>{{true, 1}, {false, 2}, {true, 3}}) {
        core::WriteSet w;
        w.now = at(s);
        w.chats.push_back(core::ChatRow{"tg", "-100123", "group", s == 1 ? "Customers" : "", std::nullopt, at(s)});
        w.memberships.push_back(core::MembershipRow{"tg", "-100123", LeadId{9}, member, at(s)});
        this->commit(w);
        auto m = this->storage_->list_memberships(LeadId{9});
        ASSERT_EQ(m.size(), 1u);
        EXPECT_EQ(m[0].member, member);
        if (s == 2) {
            ASSERT_TRUE(m[0].left_at);
            EXPECT_EQ(*m[0].left_at, at(2));
            ASSERT_TRUE(m[0].joined_at);
            EXPECT_EQ(*m[0].joined_at, at(1));
        }
        if (s == 3) {
            EXPECT_FALSE(m[0].left_at);
        }
    }
}

TYPED_TEST(StorageContract, Outbox_IdempotentClaimLeaseAndComplete) {
    auto w = this->new_lead(LeadId{3}, "tg", "33", "Oli");
    for (int i = 0; i < 3; ++i) {
        core::OutboxRow o;
        o.channel_id = "tg";
        o.idem_key = "k" + std::to_string(i);
        o.lead_id = LeadId{3};
        o.chat_id = "33";
        o.kind = "text";
        o.body = R"({"kind":"text","text":"hi"})";
        o.marketing = i == 2;
        o.due_at = this->t0_ + std::chrono::seconds(i == 1 ? 60 : 0);
        o.created_at = this->t0_;
        w.outbox.push_back(o);
    }
    w.outbox.push_back(w.outbox[0]);  // the same idempotency key again: ignored
    this->commit(w);
    EXPECT_EQ(this->storage_->outbox_counts().pending, 3);

    const auto now = this->t0_;
    auto claimed = this->storage_->claim_outbox(now, now + std::chrono::seconds(30), 10);
    ASSERT_EQ(claimed.size(), 2u);  // k1 is not due yet
    EXPECT_EQ(claimed[0].idem_key, "k0");
    EXPECT_EQ(claimed[1].idem_key, "k2");
    EXPECT_TRUE(claimed[1].marketing);
    EXPECT_FALSE(claimed[1].recipient_opted_out);
    // Leased: nobody else gets them until the lease runs out (a crashed dispatcher's rows resume).
    EXPECT_TRUE(this->storage_->claim_outbox(now, now + std::chrono::seconds(30), 10).empty());
    EXPECT_EQ(this->storage_->claim_outbox(now + std::chrono::seconds(31), now + std::chrono::seconds(90), 10).size(),
              2u);

    std::vector<core::OutboxResult> results{
        {claimed[0].id, core::OutboxStatus::kSent, {}, 1, {}},
        {claimed[1].id, core::OutboxStatus::kPending, now + std::chrono::seconds(5), 1, "telegram 502"},
    };
    core::WriteSet extra;
    extra.now = now;
    extra.events.push_back(core::EventRow{LeadId{3}, "tg", "unreachable", "system", now, "{}"});
    this->storage_->complete_outbox(results, extra, now);
    auto counts = this->storage_->outbox_counts();
    EXPECT_EQ(counts.sent, 1);
    EXPECT_EQ(counts.pending, 2);
    EXPECT_EQ(this->storage_->list_events(LeadId{3}, std::nullopt, 5).front().kind, "unreachable");
    auto next = this->storage_->next_outbox_due();
    ASSERT_TRUE(next);
    EXPECT_EQ(*next, now + std::chrono::seconds(5));
    auto retried = this->storage_->claim_outbox(now + std::chrono::seconds(5), now + std::chrono::seconds(65), 10);
    ASSERT_EQ(retried.size(), 1u);
    EXPECT_EQ(retried[0].attempts, 1);
    EXPECT_EQ(retried[0].last_error, "telegram 502");

    core::WriteSet opt;
    opt.now = now;
    core::LeadUpdate lu;
    lu.id = LeadId{3};
    lu.opted_out = true;
    lu.at = now;
    opt.lead_updates.push_back(lu);
    this->commit(opt);
    auto late = this->storage_->claim_outbox(now + std::chrono::seconds(120), now + std::chrono::seconds(180), 10);
    ASSERT_EQ(late.size(), 2u);
    EXPECT_TRUE(late[0].recipient_opted_out);
    std::vector<core::OutboxResult> dead{{late[0].id, core::OutboxStatus::kDead, {}, 8, "gave up"},
                                         {late[1].id, core::OutboxStatus::kSuppressed, {}, 0, "opted out"}};
    this->storage_->complete_outbox(dead, core::WriteSet{}, now);
    counts = this->storage_->outbox_counts();
    EXPECT_EQ(counts.pending, 0);
    EXPECT_EQ(counts.dead, 1);
    EXPECT_EQ(counts.suppressed, 1);
    auto dead_rows = this->storage_->list_outbox(core::OutboxStatus::kDead, 10);
    ASSERT_EQ(dead_rows.size(), 1u);
    EXPECT_EQ(dead_rows[0].last_error, "gave up");
    EXPECT_FALSE(this->storage_->next_outbox_due());
}

TYPED_TEST(StorageContract, RemembersAnIdentitysNumberedMenu) {
    auto w = this->new_lead(LeadId{21}, "wx", "o21", "");
    w.new_identities.push_back(core::IdentityRow{{"wx", "o22"}, LeadId{21}, "", "", "", this->t0_});
    this->commit(w);
    auto menu_of = [&](const std::string& user) {
        auto tx = this->storage_->begin_write();
        std::vector<core::IdentityKey> keys{{"wx", user}};
        auto ids = tx->find_identities(keys);
        EXPECT_EQ(ids.size(), 1u);
        return ids.empty() ? std::string("?") : ids[0].menu;
    };
    EXPECT_EQ(menu_of("o21"), "");  // new identities have none

    const std::string menu = R"(["menu:pricing","menu:demo","菜单:人工"])";
    core::WriteSet set;
    set.now = this->t0_;
    core::IdentityUpdate u;
    u.key = {"wx", "o21"};
    u.menu = menu;
    u.at = this->t0_;
    set.identity_updates.push_back(u);
    this->commit(set);
    EXPECT_EQ(menu_of("o21"), menu);
    EXPECT_EQ(menu_of("o22"), "");

    // Other identity changes leave it alone; an empty menu forgets it.
    core::WriteSet other;
    other.now = this->t0_;
    core::IdentityUpdate name;
    name.key = {"wx", "o21"};
    name.display_name = "Zoe";
    name.at = this->t0_;
    other.identity_updates.push_back(name);
    this->commit(other);
    EXPECT_EQ(menu_of("o21"), menu);
    core::WriteSet clear;
    clear.now = this->t0_;
    core::IdentityUpdate forget;
    forget.key = {"wx", "o21"};
    forget.menu = std::string{};
    forget.at = this->t0_;
    clear.identity_updates.push_back(forget);
    this->commit(clear);
    EXPECT_EQ(menu_of("o21"), "");
}

TYPED_TEST(StorageContract, Outbox_RowsWrittenAsSent_AreKeptButNeverClaimed) {
    auto w = this->new_lead(LeadId{31}, "wx", "o31", "");
    for (const char* status : {"sent", "pending"}) {
        core::OutboxRow o;
        o.channel_id = "wx";
        o.idem_key = std::string("passive-") + status;
        o.lead_id = LeadId{31};
        o.chat_id = "o31";
        o.kind = "text";
        o.body = R"({"kind":"text","text":"hi","passive":true})";
        o.due_at = this->t0_;
        o.created_at = this->t0_;
        o.status = status;
        w.outbox.push_back(o);
    }
    this->commit(w);
    const auto counts = this->storage_->outbox_counts();
    EXPECT_EQ(counts.sent, 1);
    EXPECT_EQ(counts.pending, 1);
    auto claimed = this->storage_->claim_outbox(this->t0_, this->t0_ + std::chrono::seconds(30), 10);
    ASSERT_EQ(claimed.size(), 1u);
    EXPECT_EQ(claimed[0].idem_key, "passive-pending");
    auto sent = this->storage_->list_outbox(core::OutboxStatus::kSent, 10);
    ASSERT_EQ(sent.size(), 1u);
    EXPECT_EQ(sent[0].idem_key, "passive-sent");
    EXPECT_EQ(sent[0].attempts, 0);
}

TYPED_TEST(StorageContract, FilteredFunnel_MediansFollowSourceChannelPeriodAndMerges) {
    // Leads 1-3 from campaigns on tg (created t0), lead 4 inbound on wx (created a day later). Each
    // stays in "opportunity" for (id) hours, then moves to "identified".
    constexpr std::int64_t kHour = 3'600'000;
    for (std::int64_t id = 1; id <= 4; ++id) {
        auto w = this->new_lead(LeadId{id}, id == 4 ? "wx" : "tg", "u" + std::to_string(id), "L");
        w.new_leads[0].source_kind = id == 4 ? "inbound" : "campaign";
        if (id == 4) w.new_leads[0].created_at = this->t0_ + std::chrono::hours(24);
        this->commit(w);
        core::WriteSet change;
        change.now = this->t0_;
        change.stage_changes.push_back(core::StageChangeRow{
            LeadId{id}, "identified", w.new_leads[0].created_at + std::chrono::hours(id), "api", "moved"});
        this->commit(change);
    }
    core::FunnelQuery q;
    q.stage_probabilities = {{"opportunity", 0}, {"identified", 10}};
    auto median_opportunity = [&](const core::FunnelQuery& query) {
        const auto stats = this->storage_->funnel(query);
        EXPECT_EQ(stats.median_ms_in_stage.size(), 2u);
        EXPECT_FALSE(stats.median_ms_in_stage.at(1));  // nobody left "identified"
        return stats.median_ms_in_stage.at(0);
    };
    EXPECT_EQ(median_opportunity(q), std::optional<std::int64_t>(2 * kHour));  // all four: 1 2 | 3 4 h
    auto by_source = q;
    by_source.source = "campaign";
    EXPECT_EQ(median_opportunity(by_source), std::optional<std::int64_t>(2 * kHour));  // 1 2 3 h
    EXPECT_EQ(this->storage_->funnel(by_source).total, 3);
    auto by_channel = q;
    by_channel.channel = "wx";
    EXPECT_EQ(median_opportunity(by_channel), std::optional<std::int64_t>(4 * kHour));
    auto by_period = q;
    by_period.from = this->t0_ + std::chrono::hours(1);
    EXPECT_EQ(median_opportunity(by_period), std::optional<std::int64_t>(4 * kHour));
    by_period.from.reset();
    by_period.to = this->t0_ + std::chrono::hours(1);
    EXPECT_EQ(median_opportunity(by_period), std::optional<std::int64_t>(2 * kHour));
    auto nobody = q;
    nobody.source = "referral";
    EXPECT_FALSE(median_opportunity(nobody));

    // Lead 4 merges into lead 1: its stay now counts as a tg campaign lead created at t0.
    core::WriteSet merge;
    merge.now = this->t0_;
    merge.merges.push_back(core::MergeRow{LeadId{4}, LeadId{1}, "api", "same person", "{}", this->t0_});
    this->commit(merge);
    EXPECT_FALSE(median_opportunity(by_channel));
    auto later = q;
    later.from = this->t0_ + std::chrono::hours(1);
    EXPECT_FALSE(median_opportunity(later));
    auto tg = q;
    tg.channel = "tg";
    tg.source = "campaign";
    const auto merged = this->storage_->funnel(tg);
    EXPECT_EQ(merged.total, 3);  // the merged lead is no longer counted on its own
    EXPECT_EQ(merged.median_ms_in_stage.at(0), std::optional<std::int64_t>(2 * kHour));  // 1 2 | 3 4 h
}

TYPED_TEST(StorageContract, ServesReadsAndWrites_FromManyThreads) {
    constexpr int kThreads = 4;
    constexpr int kPerThread = 50;
    std::vector<std::thread> threads;
    std::atomic<int> failures{0};
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&, t] {
            for (int i = 0; i < kPerThread; ++i) {
                const LeadId id{1000 + t * kPerThread + i};
                try {
                    auto w = this->new_lead(id, "tg", std::to_string(id.value), "L");
                    auto tx = this->storage_->begin_write();
                    tx->apply(w);
                    tx->commit();
                    if (!this->storage_->get_lead(id)) ++failures;
                } catch (const std::exception& e) {
                    ++failures;
                    ADD_FAILURE() << e.what();
                }
            }
        });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(failures.load(), 0);
    const auto stats = this->storage_->pool_stats();
    EXPECT_GE(stats.size, 1);
    EXPECT_LE(stats.size, stats.max);
    EXPECT_EQ(stats.in_use, 0);
}

TEST(Migrations, BothDialectsCarryTheSameVersions) {
    const auto& a = adapters::storage::sqlite_migrations();
    const auto& b = adapters::storage::mysql_migrations();
    ASSERT_EQ(a.size(), b.size());
    for (std::size_t i = 0; i < a.size(); ++i) {
        EXPECT_EQ(a[i].version, b[i].version);
        EXPECT_STREQ(a[i].name, b[i].name);
        EXPECT_EQ(a[i].version, static_cast<int>(i) + 1) << "versions are consecutive from 1";
    }
}

TEST(Migrations, SplitsStatements_IgnoringSemicolonsInQuotesAndComments) {
    auto parts = adapters::storage::split_sql_statements(
        "-- a comment; with a semicolon\nCREATE TABLE a (x TEXT DEFAULT ';');\nINSERT INTO a VALUES ('x;y');\n\n");
    ASSERT_EQ(parts.size(), 2u);
    EXPECT_NE(parts[0].find("DEFAULT ';'"), std::string::npos);
    EXPECT_NE(parts[1].find("'x;y'"), std::string::npos);
}

TEST(StorageUrl, ParsesSqliteAndMysqlUrls) {
    auto s = adapters::storage::parse_storage_url("sqlite:data/x.db", "/etc/leadhatch");
    ASSERT_TRUE(s);
    EXPECT_EQ(s->sqlite_path, "/etc/leadhatch/data/x.db");
    auto m = adapters::storage::parse_storage_url("mysql://u%40x:p%3Aw@db.local:3307/crm", "/");
    ASSERT_TRUE(m);
    EXPECT_EQ(m->user, "u@x");
    EXPECT_EQ(m->password, "p:w");
    EXPECT_EQ(m->host, "db.local");
    EXPECT_EQ(m->port, 3307);
    EXPECT_EQ(m->database, "crm");
    EXPECT_FALSE(adapters::storage::parse_storage_url("postgres://x", "/"));
    EXPECT_FALSE(adapters::storage::parse_storage_url("mysql://u:p@h:99999/db", "/"));
    EXPECT_FALSE(adapters::storage::parse_storage_url("mysql://u:p@h:3306/", "/"));
    EXPECT_FALSE(adapters::storage::parse_storage_url("sqlite:", "/"));
}

}  // namespace
}  // namespace leadhatch
