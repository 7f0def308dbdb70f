// Deferred commits on SQLite (log_syncer.hpp, SqliteStorage::when_durable): the writer commits
// without waiting for the disk, a syncer thread syncs the log, and a waiter hears "durable" only
// from a sync that began after its commit. The sync is the test's: it blocks until the test lets
// it finish, or fails.
#include <gtest/gtest.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>

#include "adapters/storage/sqlite/log_syncer.hpp"
#include "adapters/storage/sqlite/sqlite_storage.hpp"
#include "adapters/storage/sqlite/wal_vfs.hpp"
#include "tests/support/test_db.hpp"

namespace leadhatch {
namespace {

using adapters::storage::LogSyncer;
using adapters::storage::SqliteOptions;
using adapters::storage::SqliteStorage;
using namespace std::chrono_literals;

// Each sync waits until the test allows one (allow) or fails them all (fail).
class GatedSync {
public:
    LogSyncer::SyncFn fn() {
        return [this](int fd) {
            std::unique_lock lk(mu_);
            ++started_;
            fds_ok_ = fds_ok_ && fd >= 0;
            cv_.notify_all();
            cv_.wait(lk, [&] { return permits_ > 0 || error_ != 0; });
            if (error_ != 0) return error_;
            --permits_;
            return 0;
        };
    }
    void allow(int n = 1) {
        std::lock_guard lk(mu_);
        permits_ += n;
        cv_.notify_all();
    }
    void fail(int error) {
        std::lock_guard lk(mu_);
        error_ = error;
        cv_.notify_all();
    }
    bool wait_started(int n) {
        std::unique_lock lk(mu_);
        return cv_.wait_for(lk, 10s, [&] { return started_ >= n; });
    }
    int started() const {
        std::lock_guard lk(mu_);
        return started_;
    }
    bool fds_ok() const {
        std::lock_guard lk(mu_);
        return fds_ok_;
    }

private:
    mutable std::mutex mu_;
    std::condition_variable cv_;
    int started_ = 0;
    int permits_ = 0;
    int error_ = 0;
    bool fds_ok_ = true;
};

// What one when_durable call heard, and when.
class Answer {
public:
    std::function<void(bool)> fn() {
        return [this](bool durable) {
            std::lock_guard lk(mu_);
            ++calls_;
            durable_ = durable;
            cv_.notify_all();
        };
    }
    bool wait() {
        std::unique_lock lk(mu_);
        return cv_.wait_for(lk, 10s, [&] { return calls_ > 0; });
    }
    int calls() const {
        std::lock_guard lk(mu_);
        return calls_;
    }
    bool durable() const {
        std::lock_guard lk(mu_);
        return durable_;
    }

private:
    mutable std::mutex mu_;
    std::condition_variable cv_;
    int calls_ = 0;
    bool durable_ = false;
};

class LogSyncerTest : public ::testing::Test {
protected:
    void SetUp() override {
        path_ = (dir_.path() / "x.db-wal").string();
        std::ofstream(path_) << "log";
    }
    testing::TempDir dir_;
    std::string path_;
    GatedSync gate_;
};

TEST_F(LogSyncerTest, AnswersAtOnceWhenNoCommitIsOwed) {
    LogSyncer syncer(path_, gate_.fn());
    Answer a;
    syncer.when_durable(a.fn());
    EXPECT_EQ(a.calls(), 1) << "not answered on the calling thread";
    EXPECT_TRUE(a.durable());
    EXPECT_EQ(gate_.started(), 0);
}

TEST_F(LogSyncerTest, ASyncAnswersOnlyTheCommitsMadeBeforeItBegan) {
    LogSyncer syncer(path_, gate_.fn());
    syncer.committed();
    Answer first;
    syncer.when_durable(first.fn());
    ASSERT_TRUE(gate_.wait_started(1));

    // Committed while the first sync is under way: that sync does not cover it.
    syncer.committed();
    Answer second;
    Answer third;
    syncer.when_durable(second.fn());
    syncer.committed();
    syncer.when_durable(third.fn());
    EXPECT_EQ(first.calls(), 0);

    gate_.allow();
    ASSERT_TRUE(first.wait());
    EXPECT_TRUE(first.durable());
    ASSERT_TRUE(gate_.wait_started(2));
    EXPECT_EQ(second.calls(), 0) << "answered by a sync that began before its commit";
    EXPECT_EQ(third.calls(), 0);

    // One sync answers both later commits.
    gate_.allow();
    ASSERT_TRUE(second.wait());
    ASSERT_TRUE(third.wait());
    EXPECT_TRUE(second.durable());
    EXPECT_TRUE(third.durable());
    EXPECT_EQ(syncer.counts().commits, 3U);
    EXPECT_EQ(syncer.counts().syncs, 2U);
    EXPECT_TRUE(gate_.fds_ok());

    // Nothing owed any more: the next waiter is answered at once, without a sync.
    Answer fourth;
    syncer.when_durable(fourth.fn());
    EXPECT_EQ(fourth.calls(), 1);
    EXPECT_EQ(gate_.started(), 2);
}

TEST_F(LogSyncerTest, AFailedSyncFailsItsWaitersAndEveryLaterOne) {
    LogSyncer syncer(path_, gate_.fn());
    syncer.committed();
    Answer a;
    syncer.when_durable(a.fn());
    ASSERT_TRUE(gate_.wait_started(1));
    gate_.fail(EIO);
    ASSERT_TRUE(a.wait());
    EXPECT_FALSE(a.durable());
    EXPECT_TRUE(syncer.failed());

    // A later sync could succeed and prove nothing: later waiters fail without one.
    syncer.committed();
    Answer b;
    syncer.when_durable(b.fn());
    EXPECT_EQ(b.calls(), 1);
    EXPECT_FALSE(b.durable());
    EXPECT_EQ(gate_.started(), 1);
}

TEST_F(LogSyncerTest, AMissingLogFileIsAFailedSync) {
    LogSyncer syncer((dir_.path() / "missing-wal").string(), gate_.fn());
    syncer.committed();
    Answer a;
    syncer.when_durable(a.fn());
    ASSERT_TRUE(a.wait());
    EXPECT_FALSE(a.durable());
    EXPECT_EQ(gate_.started(), 0);
}

TEST_F(LogSyncerTest, StoppingSyncsWhatIsOwedAndAnswersEveryWaiter) {
    Answer a;
    {
        LogSyncer syncer(path_, gate_.fn());
        syncer.committed();
        syncer.when_durable(a.fn());
        gate_.allow();
    }
    EXPECT_EQ(a.calls(), 1);
    EXPECT_TRUE(a.durable());
}

TEST_F(LogSyncerTest, TheDefaultSyncIsARealFdatasync) {
    LogSyncer syncer(path_);
    syncer.committed();
    Answer a;
    syncer.when_durable(a.fn());
    ASSERT_TRUE(a.wait());
    EXPECT_TRUE(a.durable());
    EXPECT_EQ(syncer.counts().syncs, 1U);
}

// ---- SqliteStorage --------------------------------------------------------------------------

class SqliteDeferred : public ::testing::Test {
protected:
    void SetUp() override {
        SqliteOptions o;
        o.path = (dir_.path() / "lh.db").string();
        o.sync_log = gate_.fn();
        storage_ = std::make_unique<SqliteStorage>(o);
        storage_->migrate();
    }
    static core::WriteSet processed(const std::string& id, std::size_t event_bytes = 0) {
        core::WriteSet w;
        w.now = core::from_epoch_ms(1'700'000'000'000);
        w.processed.push_back({"tg", id});
        if (event_bytes > 0) {
            core::EventRow e;
            e.lead_id = core::LeadId{1};
            e.channel_id = "tg";
            e.kind = "message";
            e.actor = "user";
            e.occurred_at = w.now;
            e.data = R"({"text":")" + std::string(event_bytes, 'x') + R"("})";
            w.events.push_back(std::move(e));
        }
        return w;
    }
    bool stored(const std::string& id) {
        auto tx = storage_->begin_write();
        return !tx->find_processed(std::vector<core::InboundKey>{{"tg", id}}).empty();
    }

    testing::TempDir dir_;
    GatedSync gate_;
    std::unique_ptr<SqliteStorage> storage_;
};

TEST_F(SqliteDeferred, ACommitIsVisibleAtOnceAndDurableAfterItsSync) {
    {
        auto tx = storage_->begin_write();
        tx->apply(processed("u1"));
        tx->commit_deferred();
    }
    EXPECT_TRUE(stored("u1"));
    Answer a;
    storage_->when_durable(a.fn());
    ASSERT_TRUE(gate_.wait_started(1));
    EXPECT_EQ(a.calls(), 0) << "durable before the log was synced";
    gate_.allow();
    ASSERT_TRUE(a.wait());
    EXPECT_TRUE(a.durable());
    EXPECT_TRUE(storage_->ping());

    // An ordinary commit still syncs on its own, without the syncer.
    {
        auto tx = storage_->begin_write();
        tx->apply(processed("u2"));
        tx->commit();
    }
    Answer b;
    storage_->when_durable(b.fn());
    EXPECT_EQ(b.calls(), 1);
    EXPECT_EQ(gate_.started(), 1);
}

TEST_F(SqliteDeferred, AFailedLogSyncAnswersNotDurableAndTheStorageIsNotReady) {
    {
        auto tx = storage_->begin_write();
        tx->apply(processed("u1"));
        tx->commit_deferred();
    }
    Answer a;
    storage_->when_durable(a.fn());
    gate_.fail(EIO);
    ASSERT_TRUE(a.wait());
    EXPECT_FALSE(a.durable());
    EXPECT_FALSE(storage_->ping());
}

// Deferred commits take over SQLite's automatic checkpoint, after the commit: the log does not
// grow without bound, and everything stays readable.
TEST_F(SqliteDeferred, DeferredCommitsStillCheckpointTheLog) {
    const auto wal = dir_.path() / "lh.db-wal";
    const auto before = adapters::storage::wal_write_counts();
    for (int i = 0; i < 200; ++i) {
        auto tx = storage_->begin_write();
        tx->apply(processed("c" + std::to_string(i), 60'000));  // ~15 pages a commit, 3,000 in all
        tx->commit_deferred();
    }
    const auto after = adapters::storage::wal_write_counts();
    // One sync left out per commit, none of a checkpoint's (it syncs the log before it copies
    // frames into the database); the log restarts instead of holding all 3,000 pages (12 MB).
    EXPECT_EQ(after.deferred - before.deferred, 200U);
    EXPECT_GE(after.synced - before.synced, 2U);
    EXPECT_LT(std::filesystem::file_size(wal), 6U << 20);
    EXPECT_TRUE(stored("c0"));
    EXPECT_TRUE(stored("c199"));
    gate_.allow(1000);
}

}  // namespace
}  // namespace leadhatch
