#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <queue>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/types.hpp"

namespace leadhatch::core {

struct RateLimitSettings {
    double per_second = 30;            // the whole bot
    double per_chat_per_second = 1;    // one private chat
    double per_group_per_minute = 20;  // one group chat
};

// Decides which queued message of one bot may go out next. Limits: an even spacing for the whole
// bot (per_second), one message per interval per chat (groups have their own, longer interval),
// and a chat paused after the platform asked us to wait. Fair: among chats that may send, the one
// that has been ready the longest goes first, so one busy chat cannot starve the others.
// Excess is queued, never dropped. Pure: time comes in as arguments. Not thread-safe.
// pop() is O(log chats).
class SendScheduler {
public:
    explicit SendScheduler(RateLimitSettings limits);

    // Queues an item at `now`: a chat that becomes ready now ranks behind chats that have been
    // ready for longer.
    void push(const std::string& chat_id, bool is_group, std::int64_t item, Timestamp now);

    struct Next {
        std::optional<std::int64_t> item;  // set: send this now
        std::string chat_id;
        std::optional<Timestamp> wake_at;  // unset item: ask again then (nullopt: queue empty)
    };
    Next pop(Timestamp now);

    // The platform said to wait (Telegram 429 retry_after): nothing goes to this chat until then.
    void pause_chat(const std::string& chat_id, Timestamp until);
    // When the chat's queue (with `extra` more messages) would be through, at the current limits.
    Timestamp projected_finish(const std::string& chat_id, bool is_group, std::size_t extra, Timestamp now) const;

    std::size_t size() const { return size_; }

private:
    struct Chat {
        std::deque<std::int64_t> items;
        Timestamp next_at{};
        Timestamp last_sent{};
        bool is_group = false;
        bool scheduled = false;  // has a live entry in ready_
    };
    // Ordered by when the chat became ready, then by who sent least recently (round robin among
    // chats ready at the same moment), then by arrival.
    struct Entry {
        Timestamp at;
        Timestamp last_sent;
        std::uint64_t seq;
        std::string chat_id;
        bool operator>(const Entry& o) const {
            if (at != o.at) return at > o.at;
            if (last_sent != o.last_sent) return last_sent > o.last_sent;
            return seq > o.seq;
        }
    };
    std::chrono::milliseconds interval(bool is_group) const;
    void schedule(const std::string& chat_id, Chat& chat, Timestamp now);
    void forget_idle(Timestamp now);  // drops chats with nothing queued whose spacing has passed

    RateLimitSettings limits_;
    std::chrono::milliseconds global_interval_;
    Timestamp global_next_{};
    std::unordered_map<std::string, Chat> chats_;
    std::priority_queue<Entry, std::vector<Entry>, std::greater<>> ready_;
    std::uint64_t seq_ = 0;
    std::size_t size_ = 0;
    std::size_t sweep_at_ = 1024;  // chats_ size that triggers the next forget_idle()
};

// Exponential backoff with full jitter: attempt 1 waits up to base, attempt n up to base*2^(n-1),
// capped at max. `random01` in [0, 1) comes from the caller (tests pass a constant).
std::chrono::milliseconds backoff_delay(int attempt, std::chrono::milliseconds base, std::chrono::milliseconds max,
                                        double random01);

}  // namespace leadhatch::core
