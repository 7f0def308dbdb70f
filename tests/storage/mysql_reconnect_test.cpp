// The MySQL backend survives a restart of the MariaDB server: pooled connections that died with
// it are dropped, the next operations connect afresh. Needs LEADHATCH_TEST_MYSQL_RESTART, a
// command that restarts the test server (deploy/test.sh sets it). Runs alone (RUN_SERIAL).
#include <gtest/gtest.h>

#include <cstdlib>
#include <optional>
#include <string>
#include <thread>

#include "adapters/storage/storage_factory.hpp"
#include "core/error.hpp"
#include "core/leads/referral.hpp"
#include "tests/support/test_db.hpp"

namespace leadhatch {
namespace {

core::WriteSet lead(std::int64_t id) {
    core::WriteSet w;
    w.now = core::from_epoch_ms(1'700'000'000'000);
    core::LeadRow l;
    l.id = core::LeadId{id};
    l.referral_code = core::referral_code(l.id);
    l.created_at = w.now;
    w.new_leads.push_back(l);
    w.new_identities.push_back(core::IdentityRow{{"tg", std::to_string(id)}, l.id, "", "", "", w.now});
    return w;
}

struct RestartableServer {
    std::string url;
    std::string restart;  // the command that restarts it
};

// The test MariaDB and the command that restarts it. Without either the test is skipped (failed
// when CI=true) and the answer is nullopt: the caller returns at once.
std::optional<RestartableServer> restartable_server() {
    auto url = testing::mysql_url();
    const char* restart = std::getenv("LEADHATCH_TEST_MYSQL_RESTART");
    if (url && restart && *restart) return RestartableServer{*url, restart};
    // FAIL and GTEST_SKIP return from a void function: they mark the test, and its body returns.
    if (testing::in_ci()) {
        [] { FAIL() << "CI=true but LEADHATCH_TEST_MYSQL_URL/RESTART are not set"; }();
    } else {
        [] { GTEST_SKIP() << "needs LEADHATCH_TEST_MYSQL_URL and LEADHATCH_TEST_MYSQL_RESTART"; }();
    }
    return std::nullopt;
}

std::unique_ptr<core::Storage> migrated_storage(const testing::MysqlTestDatabase& db, int pool_size) {
    adapters::storage::StorageTuning tuning;
    tuning.pool_size = pool_size;
    auto storage = adapters::storage::make_storage(db.parsed(), tuning);
    storage->migrate();
    return storage;
}

TEST(MysqlReconnect, RecoversAfterServerRestart) {
    auto server = restartable_server();
    if (!server) return;
    testing::MysqlTestDatabase db(server->url);
    auto storage = migrated_storage(db, 4);
    // Fill the pool with several live connections.
    std::vector<std::thread> warm;
    for (int i = 0; i < 4; ++i) warm.emplace_back([&, i] {
        auto tx = storage->begin_write();
        tx->apply(lead(10 + i));
        tx->commit();
    });
    for (auto& t : warm) t.join();
    ASSERT_GE(storage->pool_stats().size, 2);
    ASSERT_TRUE(storage->ping());

    ASSERT_EQ(std::system(server->restart.c_str()), 0) << "restart command failed: " << server->restart;

    // Reads retry once on a fresh connection: the first read after the restart succeeds.
    EXPECT_TRUE(storage->ping());
    EXPECT_TRUE(storage->get_lead(core::LeadId{10}));
    // Writes: begin_write retries a dead connection before anything was sent.
    auto tx = storage->begin_write();
    tx->apply(lead(99));
    tx->commit();
    tx.reset();
    EXPECT_TRUE(storage->get_lead(core::LeadId{99}));
    EXPECT_EQ(storage->pool_stats().in_use, 0);
}

TEST(MysqlReconnect, AWriteTransactionsFirstRoundTrip_ReplacesADeadPooledConnection) {
    auto server = restartable_server();
    if (!server) return;
    testing::MysqlTestDatabase db(server->url);
    auto storage = migrated_storage(db, 2);
    {
        auto tx = storage->begin_write();
        tx->apply(lead(1));
        tx->commit();
    }
    ASSERT_EQ(std::system(server->restart.c_str()), 0) << "restart command failed: " << server->restart;

    // Nothing has noticed the restart yet: the pooled connection is dead. The transaction's first
    // round trip (START TRANSACTION together with its first query) finds out and goes again on a
    // fresh connection.
    auto tx = storage->begin_write();
    const core::InboundKey keys[] = {{"tg", "update-1"}};
    EXPECT_TRUE(tx->find_processed(keys).empty());
    const core::IdentityKey who[] = {{"tg", "1"}};
    ASSERT_EQ(tx->find_identities(who).size(), 1u);
    auto w = lead(2);
    w.processed.push_back(keys[0]);
    tx->apply(w);
    tx->commit();
    tx.reset();
    EXPECT_TRUE(storage->get_lead(core::LeadId{2}));
    auto again = storage->begin_write();
    EXPECT_EQ(again->find_processed(keys).size(), 1u);
}

TEST(MysqlReconnect, ReportsUnavailable_WhenTheServerIsGone) {
    adapters::storage::StorageUrl u;
    u.kind = adapters::storage::StorageUrl::Kind::kMysql;
    u.host = "127.0.0.1";
    u.port = 1;  // nothing listens here
    u.user = "x";
    u.password = "y";
    u.database = "z";
    auto storage = adapters::storage::make_storage(u, {});
    EXPECT_FALSE(storage->ping());
    try {
        storage->migrate();
        FAIL() << "expected StorageError";
    } catch (const core::StorageError& e) {
        EXPECT_EQ(e.kind(), core::StorageErrorKind::kUnavailable);
    }
    try {
        auto tx = storage->begin_write();
        FAIL() << "expected StorageError";
    } catch (const core::StorageError& e) {
        EXPECT_EQ(e.kind(), core::StorageErrorKind::kUnavailable);
    }
}

}  // namespace
}  // namespace leadhatch
