#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "bot/asio.hpp"
#include "core/conversation/ingest.hpp"
#include "core/storage/storage.hpp"

namespace leadhatch::bot {

// Group commit for inbound deliveries. Network threads submit() and suspend; a writer thread
// takes everything that queued up meanwhile (up to max_batch), plans it with the IngestProcessor
// and commits it as one transaction, then resumes each submitter on its own executor. Under load
// the batch grows by itself; idle, a lone request commits at once.
//
// With `writers` > 1 (a server database), deliveries are spread over that many lanes, each with
// its own queue, writer and transaction, by the person they come from: one person's deliveries
// (and the platform's retries of them) always take the same lane, in order, so lanes never race
// for the same identity. While one lane waits for the database, another plans its batch.
//
// If a batch fails for any reason other than the database being unavailable, its deliveries are
// retried one by one so that one bad delivery cannot fail its neighbours (this also settles the
// rare deadlock between lanes touching the same group or referrer).
class IngestQueue {
public:
    struct Options {
        int max_batch = 512;
        std::int64_t id_block = 4096;
        int writers = 1;
    };

    IngestQueue(core::Storage& storage, const core::IngestProcessor& processor, Options options);
    ~IngestQueue();
    IngestQueue(const IngestQueue&) = delete;
    IngestQueue& operator=(const IngestQueue&) = delete;

    // Completes after the delivery is committed (or found to be a duplicate), or with kUnavailable.
    Task<core::IngestResult> submit(core::InboundDelivery delivery);

    // Drains what is queued, then stops the writer. Submissions after stop() get kUnavailable.
    void stop();

    std::size_t depth() const;
    std::uint64_t batches() const { return batches_.load(std::memory_order_relaxed); }
    std::uint64_t committed() const { return committed_.load(std::memory_order_relaxed); }
    std::uint64_t duplicates() const { return duplicates_.load(std::memory_order_relaxed); }
    // Called after each commit that queued outbound messages (wakes the dispatcher).
    void on_outbox(std::function<void()> fn) { on_outbox_ = std::move(fn); }

    struct Waiter {
        virtual ~Waiter() = default;
        virtual void complete(core::IngestResult result) = 0;
    };

private:
    struct Item {
        core::InboundDelivery delivery;
        std::unique_ptr<Waiter> waiter;
    };
    struct Lane {
        core::IdPool ids;  // this lane's writer only
        std::mutex mu;
        std::condition_variable cv;
        std::deque<Item> queue;
        bool stopping = false;
        std::thread writer;
    };

    void enqueue(Item item);
    Lane& lane_for(const core::InboundDelivery& d);
    void run(Lane& lane);
    void process(Lane& lane, std::vector<Item>& batch);
    std::vector<core::IngestResult> commit(Lane& lane, std::span<const core::InboundDelivery* const> deliveries);

    core::Storage& storage_;
    const core::IngestProcessor& processor_;
    Options options_;
    std::vector<std::unique_ptr<Lane>> lanes_;
    std::atomic<std::uint64_t> batches_{0};
    std::atomic<std::uint64_t> committed_{0};
    std::atomic<std::uint64_t> duplicates_{0};
    std::function<void()> on_outbox_;
};

}  // namespace leadhatch::bot
