// SendScheduler and backoff_delay: the outbound rate rules, table-driven over an explicit time
// axis. Every case drives the scheduler the way the dispatcher does: apply the inputs due at t,
// pop until nothing may go, jump to the earlier of wake_at and the next input. Times are offsets
// in milliseconds from kT0; nothing sleeps.
#include "core/messaging/send_scheduler.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

namespace leadhatch::core {
namespace {

using std::chrono::milliseconds;

const Timestamp kT0 = from_epoch_ms(1'700'000'000'000);

Timestamp at_ms(std::int64_t ms) { return kT0 + milliseconds{ms}; }
std::int64_t ms_of(Timestamp t) { return (t - kT0).count(); }

// One input on the time axis: a message queued, or a chat paused (the platform's retry_after).
struct Input {
    enum class Kind { kPush, kPause };
    Kind kind = Kind::kPush;
    std::int64_t at = 0;
    std::string chat;
    bool group = false;
    std::int64_t item = 0;
    std::int64_t until = 0;  // kPause
};

Input push(std::int64_t at, std::string chat, std::int64_t item, bool group = false) {
    return Input{Input::Kind::kPush, at, std::move(chat), group, item, 0};
}
Input pause(std::int64_t at, std::string chat, std::int64_t until) {
    return Input{Input::Kind::kPause, at, std::move(chat), false, 0, until};
}

struct Sent {
    std::int64_t at = 0;
    std::string chat;
    std::int64_t item = 0;
    bool operator==(const Sent&) const = default;
};

std::ostream& operator<<(std::ostream& os, const Sent& s) {
    return os << "{t=" << s.at << " " << s.chat << " #" << s.item << "}";
}

// Runs the scheduler over the inputs (sorted by time, stable) until it is empty and no input is
// left. Checks on the way that a wake-up time is always in the future.
std::vector<Sent> simulate(SendScheduler& s, std::vector<Input> inputs, std::int64_t max_steps = 100'000) {
    std::stable_sort(inputs.begin(), inputs.end(), [](const Input& a, const Input& b) { return a.at < b.at; });
    std::vector<Sent> sent;
    std::size_t next = 0;
    std::int64_t t = inputs.empty() ? 0 : inputs.front().at;
    for (std::int64_t step = 0; step < max_steps; ++step) {
        for (; next < inputs.size() && inputs[next].at <= t; ++next) {
            const Input& in = inputs[next];
            if (in.kind == Input::Kind::kPush) {
                s.push(in.chat, in.group, in.item, at_ms(in.at));
            } else {
                s.pause_chat(in.chat, at_ms(in.until));
            }
        }
        std::optional<Timestamp> wake;
        while (true) {
            auto n = s.pop(at_ms(t));
            if (n.item) {
                sent.push_back(Sent{t, n.chat_id, *n.item});
                continue;
            }
            wake = n.wake_at;
            break;
        }
        if (wake) {
            EXPECT_GT(ms_of(*wake), t) << "wake_at must lie in the future";
        }
        std::optional<std::int64_t> t_next;
        if (wake) t_next = ms_of(*wake);
        if (next < inputs.size()) t_next = t_next ? std::min(*t_next, inputs[next].at) : inputs[next].at;
        if (!t_next) return sent;
        t = *t_next;
    }
    ADD_FAILURE() << "simulation did not finish in " << max_steps << " steps";
    return sent;
}

// ---- the table ----------------------------------------------------------------------------

struct ScheduleCase {
    std::string name;
    RateLimitSettings limits;
    std::vector<Input> inputs;
    std::vector<Sent> expected;
};

std::ostream& operator<<(std::ostream& os, const ScheduleCase& c) { return os << c.name; }

std::vector<ScheduleCase> schedule_cases() {
    std::vector<ScheduleCase> cases;
    {
        // 30/s for the bot = one send every ceil(1000/30) = 34 ms; 1/s per private chat. Three
        // chats with five messages each: the chats take turns, each once a second, 34 ms apart.
        ScheduleCase c{"Bot30PerSecond_ThreeChatsFiveMessagesEach", RateLimitSettings{30, 1, 20}, {}, {}};
        for (int k = 0; k < 5; ++k) c.inputs.push_back(push(0, "A", 1 + k));
        for (int k = 0; k < 5; ++k) c.inputs.push_back(push(0, "B", 11 + k));
        for (int k = 0; k < 5; ++k) c.inputs.push_back(push(0, "C", 21 + k));
        for (int k = 0; k < 5; ++k) {
            c.expected.push_back(Sent{1000 * k, "A", 1 + k});
            c.expected.push_back(Sent{1000 * k + 34, "B", 11 + k});
            c.expected.push_back(Sent{1000 * k + 68, "C", 21 + k});
        }
        cases.push_back(std::move(c));
    }
    {
        // The bot's limit (2/s) is the tighter one: two busy chats alternate, 500 ms apart.
        ScheduleCase c{"BotLimitTighterThanChatLimit_ChatsAlternate", RateLimitSettings{2, 10, 20}, {}, {}};
        for (int k = 0; k < 3; ++k) c.inputs.push_back(push(0, "A", 1 + k));
        for (int k = 0; k < 3; ++k) c.inputs.push_back(push(0, "B", 11 + k));
        c.expected = {{0, "A", 1}, {500, "B", 11}, {1000, "A", 2}, {1500, "B", 12}, {2000, "A", 3}, {2500, "B", 13}};
        cases.push_back(std::move(c));
    }
    {
        // A group chat gets 20 per minute = one every 3000 ms; a private chat next to it keeps its
        // own 1/s pace.
        ScheduleCase c{"GroupChat_UsesPerMinuteInterval", RateLimitSettings{30, 1, 20}, {}, {}};
        for (int k = 0; k < 3; ++k) c.inputs.push_back(push(0, "G", 1 + k, /*group=*/true));
        for (int k = 0; k < 3; ++k) c.inputs.push_back(push(0, "P", 11 + k));
        c.expected = {{0, "G", 1}, {34, "P", 11}, {1034, "P", 12}, {2034, "P", 13}, {3000, "G", 2}, {6000, "G", 3}};
        cases.push_back(std::move(c));
    }
    {
        // A busy chat (6 queued) cannot starve a chat that shows up later: B waits for one bot
        // slot, not for A's backlog.
        ScheduleCase c{"LateChat_WaitsOneBotSlotNotTheBacklog", RateLimitSettings{10, 20, 20}, {}, {}};
        for (int k = 0; k < 6; ++k) c.inputs.push_back(push(0, "A", 1 + k));
        c.inputs.push_back(push(150, "B", 11));
        c.expected = {{0, "A", 1},   {100, "A", 2}, {200, "B", 11}, {300, "A", 3},
                      {400, "A", 4}, {500, "A", 5}, {600, "A", 6}};
        cases.push_back(std::move(c));
    }
    {
        // A 429 on A at t=10 (retry after 5 s): A holds until 5000, B is not held back.
        ScheduleCase c{"PauseChat_HoldsOnlyThatChat", RateLimitSettings{30, 1, 20}, {}, {}};
        for (int k = 0; k < 3; ++k) c.inputs.push_back(push(0, "A", 1 + k));
        for (int k = 0; k < 3; ++k) c.inputs.push_back(push(0, "B", 11 + k));
        c.inputs.push_back(pause(10, "A", 5000));
        c.expected = {{0, "A", 1}, {34, "B", 11}, {1034, "B", 12}, {2034, "B", 13}, {5000, "A", 2}, {6000, "A", 3}};
        cases.push_back(std::move(c));
    }
    {
        // Paused before anything was queued: the first message waits for the pause too.
        ScheduleCase c{"PauseChat_BeforeFirstMessage", RateLimitSettings{30, 1, 20}, {}, {}};
        c.inputs = {pause(0, "A", 2500), push(0, "A", 1), push(0, "A", 2)};
        c.expected = {{2500, "A", 1}, {3500, "A", 2}};
        cases.push_back(std::move(c));
    }
    {
        // A shorter pause than the chat's own spacing changes nothing.
        ScheduleCase c{"PauseChat_ShorterThanSpacing_NoEffect", RateLimitSettings{30, 1, 20}, {}, {}};
        c.inputs = {push(0, "A", 1), push(0, "A", 2), pause(10, "A", 400)};
        c.expected = {{0, "A", 1}, {1000, "A", 2}};
        cases.push_back(std::move(c));
    }
    {
        // A chat that went quiet keeps its spacing while it is in force, and sends at once after.
        ScheduleCase c{"ChatRefill_KeepsSpacingThenSendsAtOnce", RateLimitSettings{30, 1, 20}, {}, {}};
        c.inputs = {push(0, "A", 1), push(300, "A", 2), push(5000, "A", 3)};
        c.expected = {{0, "A", 1}, {1000, "A", 2}, {5000, "A", 3}};
        cases.push_back(std::move(c));
    }
    return cases;
}

class SendSchedulerTimeline : public ::testing::TestWithParam<ScheduleCase> {};

TEST_P(SendSchedulerTimeline, PopsAtExactTimes_WhenDrivenOverTheTimeAxis) {
    const ScheduleCase& c = GetParam();
    SendScheduler s(c.limits);
    const auto sent = simulate(s, c.inputs);
    EXPECT_EQ(sent, c.expected);
    EXPECT_EQ(s.size(), 0u);
}

INSTANTIATE_TEST_SUITE_P(Cases, SendSchedulerTimeline, ::testing::ValuesIn(schedule_cases()),
                         [](const ::testing::TestParamInfo<ScheduleCase>& tpi) { return tpi.param.name; });

// ---- properties -----------------------------------------------------------------------------

TEST(SendScheduler, ReturnsNoItemAndNoWake_WhenEmpty) {
    SendScheduler s(RateLimitSettings{});
    const auto n = s.pop(kT0);
    EXPECT_FALSE(n.item.has_value());
    EXPECT_FALSE(n.wake_at.has_value());
    EXPECT_EQ(s.size(), 0u);
}

TEST(SendScheduler, CountsQueuedItems_WhenPushedAndPopped) {
    SendScheduler s(RateLimitSettings{30, 1, 20});
    s.push("A", false, 1, kT0);
    s.push("A", false, 2, kT0);
    s.push("B", true, 3, kT0);
    EXPECT_EQ(s.size(), 3u);
    ASSERT_TRUE(s.pop(kT0).item.has_value());
    EXPECT_EQ(s.size(), 2u);
    // Nothing else may go at the same instant: the answer is a wake-up time, and nothing is lost.
    const auto n = s.pop(kT0);
    EXPECT_FALSE(n.item.has_value());
    ASSERT_TRUE(n.wake_at.has_value());
    EXPECT_EQ(*n.wake_at, at_ms(34));
    EXPECT_EQ(s.size(), 2u);
}

TEST(SendScheduler, AnswersWakeAtWithoutSending_WhenAskedEarly) {
    SendScheduler s(RateLimitSettings{30, 1, 20});
    s.push("A", false, 1, kT0);
    s.push("A", false, 2, kT0);
    ASSERT_EQ(s.pop(at_ms(0)).item, std::optional<std::int64_t>(1));
    for (std::int64_t t : {1, 500, 999}) {
        const auto n = s.pop(at_ms(t));
        EXPECT_FALSE(n.item.has_value()) << "t=" << t;
        EXPECT_EQ(n.wake_at, std::optional<Timestamp>(at_ms(1000))) << "t=" << t;
    }
    EXPECT_EQ(s.pop(at_ms(1000)).item, std::optional<std::int64_t>(2));
}

// A mixed workload (seeded, so it is the same every run): every message goes out exactly once,
// in order within its chat, and no limit is broken.
TEST(SendScheduler, DeliversEverythingInOrderWithinLimits_WhenManyChatsCompete) {
    const RateLimitSettings limits{30, 1, 20};
    SendScheduler s(limits);
    std::vector<Input> inputs;
    std::map<std::string, bool> is_group;
    std::uint64_t seed = 42;
    auto rnd = [&seed](std::uint64_t n) {
        seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
        return (seed >> 33) % n;
    };
    std::int64_t item = 0;
    for (int i = 0; i < 300; ++i) {
        const auto chat_no = rnd(9);
        const std::string chat = "c" + std::to_string(chat_no);
        const bool group = chat_no >= 7;
        is_group[chat] = group;
        inputs.push_back(push(static_cast<std::int64_t>(rnd(20'000)), chat, ++item, group));
    }
    // One 429 in the middle of it.
    inputs.push_back(pause(7'000, "c3", 15'000));

    const auto sent = simulate(s, inputs);
    ASSERT_EQ(sent.size(), 300u);
    EXPECT_EQ(s.size(), 0u);

    // Exactly once, FIFO per chat.
    std::map<std::string, std::vector<std::int64_t>> pushed_order;
    auto sorted = inputs;
    std::stable_sort(sorted.begin(), sorted.end(), [](const Input& a, const Input& b) { return a.at < b.at; });
    for (const auto& in : sorted) {
        if (in.kind == Input::Kind::kPush) pushed_order[in.chat].push_back(in.item);
    }
    std::map<std::string, std::vector<std::int64_t>> sent_order;
    for (const auto& x : sent) sent_order[x.chat].push_back(x.item);
    EXPECT_EQ(sent_order, pushed_order);

    // The bot's spacing between any two sends, the chat's between two of its own, the pause.
    for (std::size_t i = 1; i < sent.size(); ++i) {
        EXPECT_GE(sent[i].at - sent[i - 1].at, 34) << sent[i - 1] << " then " << sent[i];
    }
    std::map<std::string, std::int64_t> last;
    for (const auto& x : sent) {
        if (auto it = last.find(x.chat); it != last.end()) {
            EXPECT_GE(x.at - it->second, is_group[x.chat] ? 3000 : 1000) << x;
        }
        last[x.chat] = x.at;
        if (x.chat == "c3") {
            EXPECT_FALSE(x.at >= 7'000 && x.at < 15'000) << "sent while paused: " << x;
        }
    }
}

// Spec: "among chats that may send, the one that has been ready the longest goes first". Chat A
// has a backlog; its second message may go from t=1000. From t=100 on, a new chat with one message
// arrives every 100 ms (the bot's whole rate). At t=1100 A has been ready for 100 ms and the new
// chat for 0 ms, so A must go then at the latest.
TEST(SendScheduler, ServesChatReadyLongest_WhenNewChatsKeepArriving) {
    SendScheduler s(RateLimitSettings{10, 1, 20});
    std::vector<Input> inputs;
    for (int k = 0; k < 3; ++k) inputs.push_back(push(0, "A", 1 + k));
    for (int k = 1; k <= 30; ++k) inputs.push_back(push(100 * k, "N" + std::to_string(k), 100 + k));
    const auto sent = simulate(s, inputs);
    const auto a2 = std::find_if(sent.begin(), sent.end(), [](const Sent& x) { return x.item == 2; });
    ASSERT_NE(a2, sent.end());
    EXPECT_LE(a2->at, 1100);
}

// ---- projected_finish ---------------------------------------------------------------------------

TEST(SendSchedulerProjectedFinish, IsOneIntervalPerMessage_WhenChatUnknown) {
    SendScheduler s(RateLimitSettings{30, 1, 20});
    EXPECT_EQ(s.projected_finish("A", false, 0, kT0), kT0);
    EXPECT_EQ(s.projected_finish("A", false, 1, kT0), at_ms(1000));
    EXPECT_EQ(s.projected_finish("A", false, 4, kT0), at_ms(4000));
    EXPECT_EQ(s.projected_finish("G", true, 2, kT0), at_ms(6000));
}

TEST(SendSchedulerProjectedFinish, CountsQueueAndSpacing_WhenChatIsBusy) {
    SendScheduler s(RateLimitSettings{30, 1, 20});
    for (int k = 0; k < 3; ++k) s.push("A", false, k, kT0);
    // Three queued + one more: the chat is free again 4 s from now.
    EXPECT_EQ(s.projected_finish("A", false, 1, kT0), at_ms(4000));
    ASSERT_TRUE(s.pop(kT0).item.has_value());
    // One sent at t=0: two queued, the next may go at 1000.
    EXPECT_EQ(s.projected_finish("A", false, 0, at_ms(10)), at_ms(3000));
    // The chat's kind is what it was queued as, whatever the caller says now.
    EXPECT_EQ(s.projected_finish("A", true, 0, at_ms(10)), at_ms(3000));
}

TEST(SendSchedulerProjectedFinish, StartsAfterPause_WhenChatPaused) {
    SendScheduler s(RateLimitSettings{30, 1, 20});
    s.pause_chat("A", at_ms(8000));
    EXPECT_EQ(s.projected_finish("A", false, 2, kT0), at_ms(10'000));
}

// The projection matches what the scheduler then does: a probe pushed after the queue goes out at
// the projected time (no other chat competing).
TEST(SendSchedulerProjectedFinish, MatchesActualSendOfNextMessage_WhenQueueDrains) {
    SendScheduler s(RateLimitSettings{30, 1, 20});
    std::vector<Input> inputs;
    for (int k = 0; k < 4; ++k) inputs.push_back(push(0, "A", 1 + k));
    for (const auto& in : inputs) s.push(in.chat, in.group, in.item, at_ms(in.at));
    const auto projected = s.projected_finish("A", false, 0, kT0);
    SendScheduler replay(RateLimitSettings{30, 1, 20});
    inputs.push_back(push(0, "A", 99));
    const auto sent = simulate(replay, inputs);
    ASSERT_EQ(sent.size(), 5u);
    EXPECT_EQ(at_ms(sent.back().at), projected);
}

// ---- backoff_delay ------------------------------------------------------------------------------

struct BackoffCase {
    int attempt = 1;
    std::int64_t ceiling_ms = 0;  // min(max, base * 2^(attempt-1)), attempts below 1 count as 1
};

std::ostream& operator<<(std::ostream& os, const BackoffCase& c) {
    return os << "attempt " << c.attempt << " ceiling " << c.ceiling_ms;
}

constexpr milliseconds kBase{500};
constexpr milliseconds kMax{60'000};

class BackoffDelay : public ::testing::TestWithParam<BackoffCase> {};

TEST_P(BackoffDelay, StaysWithinTenthOfCeilingAndCeiling_ForAnyRandom) {
    const auto c = GetParam();
    std::int64_t previous = -1;
    for (double r : {0.0, 0.1, 0.25, 0.5, 0.75, 0.999999}) {
        const auto d = backoff_delay(c.attempt, kBase, kMax, r).count();
        EXPECT_GE(d, c.ceiling_ms / 10) << "r=" << r;
        EXPECT_LE(d, c.ceiling_ms) << "r=" << r;
        EXPECT_GE(d, previous) << "a larger random never waits less, r=" << r;
        previous = d;
    }
    // The ends of the range are exact.
    EXPECT_EQ(backoff_delay(c.attempt, kBase, kMax, 0.0).count(), c.ceiling_ms / 10);
    EXPECT_EQ(backoff_delay(c.attempt, kBase, kMax, 1.0).count(), c.ceiling_ms);
}

INSTANTIATE_TEST_SUITE_P(Attempts, BackoffDelay,
                         ::testing::Values(BackoffCase{1, 500}, BackoffCase{2, 1000}, BackoffCase{3, 2000},
                                           BackoffCase{4, 4000}, BackoffCase{5, 8000}, BackoffCase{6, 16'000},
                                           BackoffCase{7, 32'000}, BackoffCase{8, 60'000}, BackoffCase{9, 60'000},
                                           BackoffCase{31, 60'000}, BackoffCase{64, 60'000},
                                           BackoffCase{1'000'000, 60'000}, BackoffCase{0, 500}, BackoffCase{-5, 500}));

TEST(BackoffDelayCeiling, NeverDecreases_WhenAttemptsGrow) {
    for (double r : {0.0, 0.5, 1.0}) {
        std::int64_t previous = 0;
        for (int attempt = 1; attempt <= 100; ++attempt) {
            const auto d = backoff_delay(attempt, milliseconds{250}, milliseconds{90'000}, r).count();
            EXPECT_GE(d, previous) << "attempt " << attempt << " r=" << r;
            EXPECT_LE(d, 90'000) << "attempt " << attempt;
            previous = d;
        }
        EXPECT_EQ(backoff_delay(100, milliseconds{250}, milliseconds{90'000}, 1.0).count(), 90'000);
    }
}

TEST(BackoffDelayCeiling, ClampsRandomOutsideUnitRange_WhenCallerPassesGarbage) {
    EXPECT_EQ(backoff_delay(3, kBase, kMax, -4.0).count(), 200);
    EXPECT_EQ(backoff_delay(3, kBase, kMax, 17.0).count(), 2000);
}

TEST(BackoffDelayCeiling, UsesMax_WhenBaseAboveMax) {
    EXPECT_EQ(backoff_delay(1, milliseconds{10'000}, milliseconds{3'000}, 1.0).count(), 3'000);
    EXPECT_EQ(backoff_delay(1, milliseconds{10'000}, milliseconds{3'000}, 0.0).count(), 300);
}

}  // namespace
}  // namespace leadhatch::core
