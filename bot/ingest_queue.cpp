#include "bot/ingest_queue.hpp"

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>

#include "core/error.hpp"

namespace leadhatch::bot {
namespace {

namespace net = boost::asio;

// Holds a completion handler until the writer thread has a result, then posts it to the
// handler's own executor (the submitting coroutine's strand).
template <class Handler>
class HandlerWaiter final : public IngestQueue::Waiter {
public:
    explicit HandlerWaiter(Handler h)
        : handler_(std::move(h)), work_(net::make_work_guard(net::get_associated_executor(handler_))) {}
    void complete(core::IngestResult result) override {
        auto ex = work_.get_executor();
        net::post(ex, [h = std::move(handler_), r = std::move(result)]() mutable { h(std::move(r)); });
        work_.reset();
    }

private:
    Handler handler_;
    net::executor_work_guard<net::associated_executor_t<Handler>> work_;
};

core::IngestResult with_status(core::IngestStatus s) {
    core::IngestResult r;
    r.status = s;
    return r;
}

}  // namespace

IngestQueue::IngestQueue(core::Storage& storage, const core::IngestProcessor& processor, Options options)
    : storage_(storage), processor_(processor), options_(options) {
    const int n = std::max(1, options_.writers);
    for (int i = 0; i < n; ++i) lanes_.push_back(std::make_unique<Lane>());
    for (auto& lane : lanes_) lane->writer = std::thread([this, l = lane.get()] { run(*l); });
}

IngestQueue::~IngestQueue() { stop(); }

Task<core::IngestResult> IngestQueue::submit(core::InboundDelivery delivery) {
    auto initiate = [this](auto handler, core::InboundDelivery d) {
        using H = decltype(handler);
        enqueue(Item{std::move(d), std::make_unique<HandlerWaiter<H>>(std::move(handler))});
    };
    co_return co_await net::async_initiate<decltype(net::use_awaitable), void(core::IngestResult)>(
        initiate, net::use_awaitable, std::move(delivery));
}

IngestQueue::Lane& IngestQueue::lane_for(const core::InboundDelivery& d) {
    if (lanes_.size() == 1) return *lanes_.front();
    // The person the delivery comes from (else its chat, else the delivery itself).
    std::string_view who = d.dedupe_key;
    if (!d.events.empty()) {
        const auto& e = d.events.front();
        who = !e.user.external_id.empty() ? std::string_view(e.user.external_id)
              : !e.chat.external_id.empty() ? std::string_view(e.chat.external_id)
                                            : who;
    }
    const std::size_t h = std::hash<std::string_view>{}(d.channel_id) * 31 + std::hash<std::string_view>{}(who);
    return *lanes_[h % lanes_.size()];
}

void IngestQueue::enqueue(Item item) {
    Lane& lane = lane_for(item.delivery);
    {
        std::lock_guard lk(lane.mu);
        if (!lane.stopping) {
            lane.queue.push_back(std::move(item));
            lane.cv.notify_one();
            return;
        }
    }
    item.waiter->complete(with_status(core::IngestStatus::kUnavailable));
}

void IngestQueue::stop() {
    for (auto& lane : lanes_) {
        std::lock_guard lk(lane->mu);
        lane->stopping = true;
        lane->cv.notify_all();
    }
    for (auto& lane : lanes_) {
        if (lane->writer.joinable()) lane->writer.join();
    }
}

std::size_t IngestQueue::depth() const {
    std::size_t n = 0;
    for (const auto& lane : lanes_) {
        std::lock_guard lk(lane->mu);
        n += lane->queue.size();
    }
    return n;
}

void IngestQueue::run(Lane& lane) {
    std::vector<Item> batch;
    for (;;) {
        {
            std::unique_lock lk(lane.mu);
            lane.cv.wait(lk, [&] { return lane.stopping || !lane.queue.empty(); });
            if (lane.queue.empty() && lane.stopping) return;
            const std::size_t n = std::min(lane.queue.size(), static_cast<std::size_t>(options_.max_batch));
            for (std::size_t i = 0; i < n; ++i) {
                batch.push_back(std::move(lane.queue.front()));
                lane.queue.pop_front();
            }
        }
        process(lane, batch);
        batch.clear();
    }
}

std::vector<core::IngestResult> IngestQueue::commit(Lane& lane,
                                                    std::span<const core::InboundDelivery* const> deliveries) {
    return processor_.commit(storage_, deliveries, lane.ids, options_.id_block);
}

void IngestQueue::process(Lane& lane, std::vector<Item>& batch) {
    std::vector<const core::InboundDelivery*> deliveries;
    deliveries.reserve(batch.size());
    for (const auto& item : batch) deliveries.push_back(&item.delivery);
    std::vector<core::IngestResult> results;
    try {
        results = commit(lane, deliveries);
    } catch (const core::StorageError& e) {
        if (e.kind() == core::StorageErrorKind::kUnavailable || batch.size() == 1) {
            const auto status = e.kind() == core::StorageErrorKind::kUnavailable ? core::IngestStatus::kUnavailable
                                                                                 : core::IngestStatus::kFailed;
            spdlog::warn("ingest: batch of {} not stored: {}", batch.size(), e.what());
            results.assign(batch.size(), with_status(status));
        }
    } catch (const std::exception& e) {
        spdlog::error("ingest: batch of {} failed: {}", batch.size(), e.what());
        if (batch.size() == 1) results.assign(1, with_status(core::IngestStatus::kFailed));
    }
    if (results.empty()) {
        // One delivery broke the group: commit each alone so the others still land.
        for (const auto* d : deliveries) {
            const core::InboundDelivery* one[] = {d};
            try {
                results.push_back(std::move(commit(lane, one).front()));
            } catch (const core::StorageError& e) {
                spdlog::warn("ingest: delivery on {} not stored: {}", d->channel_id, e.what());
                results.push_back(with_status(e.kind() == core::StorageErrorKind::kUnavailable
                                                  ? core::IngestStatus::kUnavailable
                                                  : core::IngestStatus::kFailed));
            } catch (const std::exception& e) {
                spdlog::error("ingest: delivery on {} failed: {}", d->channel_id, e.what());
                results.push_back(with_status(core::IngestStatus::kFailed));
            }
        }
    }
    bool queued_outbox = false;
    std::uint64_t ok = 0;
    std::uint64_t dup = 0;
    for (const auto& r : results) {
        if (r.status == core::IngestStatus::kAccepted) ++ok;
        if (r.status == core::IngestStatus::kDuplicate) ++dup;
        queued_outbox = queued_outbox || !r.replies.empty();
    }
    // Counted before anyone is answered: a delivery that got its 200 is already in /metrics.
    batches_.fetch_add(1, std::memory_order_relaxed);
    committed_.fetch_add(ok, std::memory_order_relaxed);
    duplicates_.fetch_add(dup, std::memory_order_relaxed);
    for (std::size_t i = 0; i < batch.size(); ++i) batch[i].waiter->complete(std::move(results[i]));
    if (queued_outbox && on_outbox_) on_outbox_();
}

}  // namespace leadhatch::bot
