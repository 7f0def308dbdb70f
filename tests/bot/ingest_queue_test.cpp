// The group commit (bot/ingest_queue.hpp) on SQLite with deferred commits: a delivery is answered
// only after the sync that covers its commit, a redelivery of it too, and a failed sync answers
// "unavailable" (the webhook's 503) instead of 200. The log's sync is the test's own.
#include "bot/ingest_queue.hpp"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <cerrno>
#include <condition_variable>
#include <mutex>
#include <optional>

#include "adapters/storage/sqlite/sqlite_storage.hpp"
#include "core/messaging/templates.hpp"
#include "tests/fakes/fake_clock.hpp"
#include "tests/support/test_db.hpp"

namespace leadhatch {
namespace {

namespace net = boost::asio;
using namespace std::chrono_literals;

// Each log sync waits until the test allows it, or fails.
class Gate {
public:
    std::function<int(int)> fn() {
        return [this](int) {
            std::unique_lock lk(mu_);
            ++started_;
            cv_.notify_all();
            cv_.wait(lk, [&] { return open_ || error_ != 0; });
            return error_;
        };
    }
    void open() {
        std::lock_guard lk(mu_);
        open_ = true;
        cv_.notify_all();
    }
    void fail(int e) {
        std::lock_guard lk(mu_);
        error_ = e;
        cv_.notify_all();
    }
    bool wait_started() {
        std::unique_lock lk(mu_);
        return cv_.wait_for(lk, 10s, [&] { return started_ > 0; });
    }

private:
    std::mutex mu_;
    std::condition_variable cv_;
    int started_ = 0;
    bool open_ = false;
    int error_ = 0;
};

core::InboundDelivery message(const std::string& update_id, const std::string& user) {
    core::InboundEvent e;
    e.kind = core::InboundKind::kMessage;
    e.occurred_at = core::from_epoch_ms(fakes::FakeClock::kDefaultStartMs - 1000);
    e.user.external_id = user;
    e.user.display_name = "Ann";
    e.user.language = "en";
    e.chat.external_id = user;
    e.chat.type = core::ChatType::kPrivate;
    e.text = "hello";
    core::InboundDelivery d;
    d.channel_id = "tg";
    d.dedupe_key = update_id;
    d.events.push_back(std::move(e));
    return d;
}

class IngestQueueDurability : public ::testing::Test {
protected:
    void SetUp() override {
        adapters::storage::SqliteOptions o;
        o.path = (dir_.path() / "lh.db").string();
        o.sync_log = gate_.fn();
        storage_ = std::make_unique<adapters::storage::SqliteStorage>(o);
        storage_->migrate();
        processor_ = std::make_unique<core::IngestProcessor>(
            templates_, [this](std::string_view id) { return id == "tg" ? &channel_ : nullptr; }, clock_);
        queue_ = std::make_unique<bot::IngestQueue>(*storage_, *processor_, bot::IngestQueue::Options{});
    }
    void TearDown() override {
        gate_.open();
        queue_->stop();
    }

    // Submits on the test's io_context; the answer lands in `out` when the io_context runs again.
    void submit(core::InboundDelivery d, std::optional<core::IngestResult>& out) {
        net::co_spawn(io_, queue_->submit(std::move(d)), [&out](std::exception_ptr e, core::IngestResult r) {
            if (e) std::rethrow_exception(e);
            out = std::move(r);
        });
        io_.restart();
        io_.poll();  // starts the coroutine: it enqueues the delivery and waits
    }
    // Runs the io_context until `out` is set or `limit` passes.
    bool run_until(const std::optional<core::IngestResult>& out, std::chrono::milliseconds limit) {
        const auto end = std::chrono::steady_clock::now() + limit;
        while (!out && std::chrono::steady_clock::now() < end) {
            io_.restart();
            io_.run_for(5ms);
        }
        return out.has_value();
    }
    bool has_lead(const std::string& user) {
        return storage_->find_lead_by_identity(core::IdentityKey{"tg", user}).has_value();
    }

    testing::TempDir dir_;
    Gate gate_;
    fakes::FakeClock clock_;
    core::TemplateCatalog templates_;
    core::ChannelInfo channel_{"tg", core::Platform::kTelegram, "en", false, false};
    std::unique_ptr<adapters::storage::SqliteStorage> storage_;
    std::unique_ptr<core::IngestProcessor> processor_;
    std::unique_ptr<bot::IngestQueue> queue_;
    net::io_context io_;
};

TEST_F(IngestQueueDurability, AnswersOnlyOnceTheCommitIsDurable) {
    std::optional<core::IngestResult> first;
    submit(message("1", "u1"), first);
    ASSERT_TRUE(gate_.wait_started());
    EXPECT_TRUE(has_lead("u1")) << "the batch should be committed while its sync is under way";
    EXPECT_FALSE(run_until(first, 100ms)) << "answered before the log was synced";

    // A redelivery of the same update, deduplicated against the commit that is not yet durable,
    // waits for the same sync.
    std::optional<core::IngestResult> again;
    submit(message("1", "u1"), again);
    EXPECT_FALSE(run_until(again, 100ms));

    gate_.open();
    ASSERT_TRUE(run_until(first, 10s));
    ASSERT_TRUE(run_until(again, 10s));
    EXPECT_EQ(first->status, core::IngestStatus::kAccepted);
    EXPECT_EQ(again->status, core::IngestStatus::kDuplicate);
    EXPECT_EQ(queue_->committed(), 1U);
    EXPECT_EQ(queue_->duplicates(), 1U);
}

TEST_F(IngestQueueDurability, AFailedSyncAnswersUnavailable) {
    std::optional<core::IngestResult> first;
    submit(message("1", "u1"), first);
    ASSERT_TRUE(gate_.wait_started());
    gate_.fail(EIO);
    ASSERT_TRUE(run_until(first, 10s));
    EXPECT_EQ(first->status, core::IngestStatus::kUnavailable);
    EXPECT_EQ(queue_->committed(), 0U);

    // The platform's retry lands on a committed-but-unsynced update: still no 200.
    std::optional<core::IngestResult> retry;
    submit(message("1", "u1"), retry);
    ASSERT_TRUE(run_until(retry, 10s));
    EXPECT_EQ(retry->status, core::IngestStatus::kUnavailable);
}

TEST_F(IngestQueueDurability, StopAnswersWhatIsCommittedOnceItIsDurable) {
    std::optional<core::IngestResult> first;
    submit(message("1", "u1"), first);
    ASSERT_TRUE(gate_.wait_started());
    gate_.open();
    queue_->stop();
    ASSERT_TRUE(run_until(first, 10s));
    EXPECT_EQ(first->status, core::IngestStatus::kAccepted);
}

}  // namespace
}  // namespace leadhatch
