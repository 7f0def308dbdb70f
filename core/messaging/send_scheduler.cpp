#include "core/messaging/send_scheduler.hpp"

#include <algorithm>
#include <cmath>

namespace leadhatch::core {
namespace {

std::chrono::milliseconds every(double per_second) {
    return std::chrono::milliseconds(static_cast<std::int64_t>(std::ceil(1000.0 / per_second)));
}

}  // namespace

SendScheduler::SendScheduler(RateLimitSettings limits)
    : limits_(limits), global_interval_(every(std::max(0.001, limits.per_second))) {}

std::chrono::milliseconds SendScheduler::interval(bool is_group) const {
    return is_group ? every(std::max(0.0001, limits_.per_group_per_minute) / 60.0)
                    : every(std::max(0.0001, limits_.per_chat_per_second));
}

void SendScheduler::schedule(const std::string& chat_id, Chat& chat, Timestamp now) {
    if (chat.scheduled || chat.items.empty()) return;
    chat.scheduled = true;
    ready_.push(Entry{std::max(chat.next_at, now), chat.last_sent, seq_++, chat_id});
}

void SendScheduler::forget_idle(Timestamp now) {
    for (auto it = chats_.begin(); it != chats_.end();) {
        const Chat& c = it->second;
        it = (c.items.empty() && !c.scheduled && c.next_at <= now) ? chats_.erase(it) : std::next(it);
    }
    sweep_at_ = std::max<std::size_t>(1024, chats_.size() * 2);
}

void SendScheduler::push(const std::string& chat_id, bool is_group, std::int64_t item, Timestamp now) {
    if (chats_.size() >= sweep_at_) forget_idle(now);
    auto& chat = chats_[chat_id];
    chat.is_group = chat.is_group || is_group;
    chat.items.push_back(item);
    ++size_;
    schedule(chat_id, chat, now);
}

SendScheduler::Next SendScheduler::pop(Timestamp now) {
    while (!ready_.empty()) {
        Entry top = ready_.top();
        auto it = chats_.find(top.chat_id);
        if (it == chats_.end() || it->second.items.empty()) {
            ready_.pop();
            if (it != chats_.end()) chats_.erase(it);
            continue;
        }
        Chat& chat = it->second;
        if (top.at < chat.next_at) {  // paused after it was scheduled: move it back
            ready_.pop();
            ready_.push(Entry{chat.next_at, top.last_sent, top.seq, top.chat_id});
            continue;
        }
        const Timestamp when = std::max(top.at, global_next_);
        if (when > now) return Next{std::nullopt, {}, when};
        ready_.pop();
        Next out{chat.items.front(), top.chat_id, std::nullopt};
        chat.items.pop_front();
        --size_;
        global_next_ = std::max(global_next_, now) + global_interval_;
        chat.next_at = std::max(chat.next_at, now) + interval(chat.is_group);
        chat.last_sent = now;
        chat.scheduled = false;
        // An emptied chat keeps its spacing until forget_idle() finds it has passed.
        schedule(top.chat_id, chat, now);
        return out;
    }
    return Next{std::nullopt, {}, std::nullopt};
}

void SendScheduler::pause_chat(const std::string& chat_id, Timestamp until) {
    auto& chat = chats_[chat_id];
    chat.next_at = std::max(chat.next_at, until);
}

Timestamp SendScheduler::projected_finish(const std::string& chat_id, bool is_group, std::size_t extra,
                                          Timestamp now) const {
    const auto it = chats_.find(chat_id);
    const std::size_t queued = it == chats_.end() ? 0 : it->second.items.size();
    const Timestamp start = it == chats_.end() ? now : std::max(now, it->second.next_at);
    const auto step = interval(it == chats_.end() ? is_group : it->second.is_group);
    return start + step * static_cast<std::int64_t>(queued + extra);
}

std::chrono::milliseconds backoff_delay(int attempt, std::chrono::milliseconds base, std::chrono::milliseconds max,
                                        double random01) {
    const int exp = std::clamp(attempt - 1, 0, 30);
    const double ceiling = std::min(static_cast<double>(max.count()), static_cast<double>(base.count()) * std::pow(2.0, exp));
    // Full jitter, but never less than a tenth of the ceiling: a retry storm spreads out, and no
    // retry fires immediately.
    const double r = std::clamp(random01, 0.0, 1.0);
    return std::chrono::milliseconds(static_cast<std::int64_t>(ceiling * (0.1 + 0.9 * r)));
}

}  // namespace leadhatch::core
