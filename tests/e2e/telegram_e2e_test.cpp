// End to end: the real leadhatch binary, a fake Telegram Bot API on loopback, and a real database
// (SQLite file, and MariaDB when LEADHATCH_TEST_MYSQL_URL is set). Telegram payloads are the
// fixtures under tests/fixtures/telegram, shaped as the Bot API documents them.
#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>

#include <nlohmann/json.hpp>

#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "adapters/storage/storage_factory.hpp"
#include "core/leads/referral.hpp"
#include "tests/support/fake_platform.hpp"
#include "tests/support/raw_http.hpp"
#include "tests/support/service_process.hpp"
#include "tests/support/tcp_proxy.hpp"
#include "tests/support/e2e_backend.hpp"
#include "tests/support/test_db.hpp"

namespace leadhatch {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using testing::FakePlatform;
using testing::FakeReply;
using testing::RawConn;
using testing::RecordedRequest;
using testing::ServiceProcess;
namespace tg = testing::telegram_replies;

constexpr const char* kBotToken = "7012345678:AAH-e2e-TOKEN-do-not-log";
constexpr const char* kSecret = "e2e-Secret_token-123";

std::string fixture(const std::string& name) {
    std::ifstream in(testing::source_dir() + "/tests/fixtures/telegram/" + name + ".json");
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

json private_text(std::int64_t update_id, std::int64_t user_id, const std::string& text,
                  const std::string& first_name = "Ann", const std::string& lang = "en") {
    return json{{"update_id", update_id},
                {"message",
                 {{"message_id", update_id},
                  {"date", 1732350000},
                  {"from", {{"id", user_id}, {"is_bot", false}, {"first_name", first_name}, {"language_code", lang}}},
                  {"chat", {{"id", user_id}, {"first_name", first_name}, {"type", "private"}}},
                  {"text", text}}}};
}

using testing::Backend;

class TelegramE2E : public ::testing::TestWithParam<Backend> {
protected:
    void SetUp() override {
        auto url = testing::e2e_storage_url(GetParam(), dir_.path() / "e2e.db", mysql_);
        if (!url) return;
        storage_url_ = *url;
        fake_ = std::make_unique<FakePlatform>(nullptr);
    }

    void TearDown() override {
        if (service_ && service_->running()) {
            service_->signal(SIGTERM);
            service_->wait(10s);
        }
    }

    // Writes the config and starts the service. `outbox` and `limits` are JSON object bodies.
    void start(const std::string& outbox = R"("base_backoff_ms": 50, "max_backoff_ms": 400, "max_attempts": 4,
                                             "request_timeout_ms": 1000, "lease_ms": 3000)",
               const std::string& limits = R"("per_second": 500, "per_chat_per_second": 100,
                                             "per_group_per_minute": 600)",
               const std::string& storage_extra = "", const std::string& url_override = "") {
        const auto cfg = dir_.path() / "config.json";
        std::ofstream(cfg) << R"({
          "server": { "listen": "127.0.0.1:0", "threads": 2, "max_body_bytes": 65536, "shutdown_timeout_ms": 5000 },
          "storage": { "url": ")" << (url_override.empty() ? storage_url_ : url_override) << "\"" << storage_extra
                           << R"( },
          "templates_dir": ")" << testing::source_dir() << R"(/templates",
          "logging": { "level": "debug" },
          "outbox": { )" << outbox << R"( },
          "channels": [ { "id": "tg", "platform": "telegram", "bot_token": "${E2E_TG_TOKEN}",
                          "secret_token": "${E2E_TG_SECRET}", "api_base": ")"
                           << fake_->base_url() << R"(", "bot_username": "YourBot",
                          "rate_limits": { )" << limits << R"( } } ]
        })";
        service_ = std::make_unique<ServiceProcess>(
            cfg.string(), std::vector<std::pair<std::string, std::string>>{{"E2E_TG_TOKEN", kBotToken},
                                                                           {"E2E_TG_SECRET", kSecret}});
        ASSERT_TRUE(service_->start()) << service_->logs();
    }

    int post(const std::string& body, const std::string& secret = kSecret) {
        const std::string headers = secret.empty() ? "" : "X-Telegram-Bot-Api-Secret-Token: " + secret + "\r\n";
        return RawConn::status_of(testing::http_request(service_->port(), "POST", "/webhooks/tg", body,
                                                        "Content-Type: application/json\r\n" + headers));
    }
    int post(const json& body) { return post(body.dump()); }

    core::Storage& db() {
        if (!storage_) {
            auto parsed = adapters::storage::parse_storage_url(storage_url_, dir_.path());
            storage_ = adapters::storage::make_storage(*parsed, {});
        }
        return *storage_;
    }

    std::optional<core::LeadRecord> lead_of(const std::string& user_id) {
        auto id = db().find_lead_by_identity({"tg", user_id});
        if (!id) return std::nullopt;
        return db().get_lead(*id);
    }

    std::vector<std::string> event_kinds(const std::string& user_id) {
        std::vector<std::string> kinds;
        auto id = db().find_lead_by_identity({"tg", user_id});
        if (!id) return kinds;
        for (const auto& e : db().list_events(*id, std::nullopt, 100)) kinds.push_back(e.kind);
        return kinds;
    }

    static std::vector<RecordedRequest> sends_to(const std::vector<RecordedRequest>& all, const std::string& method) {
        std::vector<RecordedRequest> out;
        for (const auto& r : all) {
            if (r.target.find("/" + method) != std::string::npos) out.push_back(r);
        }
        return out;
    }

    testing::TempDir dir_;
    std::unique_ptr<testing::MysqlTestDatabase> mysql_;
    std::string storage_url_;
    std::unique_ptr<FakePlatform> fake_;
    std::unique_ptr<ServiceProcess> service_;
    std::unique_ptr<core::Storage> storage_;
};

TEST_P(TelegramE2E, StartDeepLink_CreatesACampaignLead_AndSendsTheWelcome) {
    start();
    ASSERT_EQ(post(fixture("start_deeplink_campaign")), 200);
    const auto update = json::parse(fixture("start_deeplink_campaign"));
    const auto user = std::to_string(update["message"]["from"]["id"].get<std::int64_t>());
    auto lead = lead_of(user);
    ASSERT_TRUE(lead) << service_->logs();
    EXPECT_EQ(lead->source_kind, "campaign");
    EXPECT_EQ(lead->source_campaign, "spring2026");
    EXPECT_EQ(lead->source_channel, "tg");
    EXPECT_FALSE(lead->opted_out);
    // Newest first: created, the command, the first interaction makes it engaged, /start scores.
    EXPECT_EQ(event_kinds(user),
              (std::vector<std::string>{"score_changed", "status_changed", "command", "lead_created"}));
    EXPECT_EQ(lead_of(user)->status, "engaged");

    ASSERT_TRUE(fake_->wait_for_count(1, 5s)) << service_->logs();
    const auto r = fake_->requests().front();
    EXPECT_EQ(r.target, std::string("/bot") + kBotToken + "/sendMessage");
    EXPECT_FALSE(r.header("idempotency-key").empty());
    const auto body = json::parse(r.body);
    EXPECT_EQ(std::to_string(body["chat_id"].get<std::int64_t>()), user);
    EXPECT_NE(body["text"].get<std::string>().find(update["message"]["from"]["first_name"].get<std::string>()),
              std::string::npos);
    EXPECT_EQ(body["reply_markup"]["inline_keyboard"][0][0]["callback_data"], "menu:pricing");
    // The outbox row is marked sent.
    for (int i = 0; i < 100 && db().outbox_counts().sent < 1; ++i) std::this_thread::sleep_for(20ms);
    EXPECT_EQ(db().outbox_counts().sent, 1);
}

TEST_P(TelegramE2E, ChoosesTheWelcomeLanguage_FromTheUser) {
    start();
    ASSERT_EQ(post(private_text(501, 9001, "/start", "伟", "zh-hans")), 200);
    ASSERT_EQ(post(private_text(502, 9002, "/start", "Jo", "de")), 200);  // no German: the default
    ASSERT_TRUE(fake_->wait_for_count(2, 5s));
    std::map<std::int64_t, std::string> texts;
    for (const auto& r : fake_->requests()) {
        auto b = json::parse(r.body);
        texts[b["chat_id"].get<std::int64_t>()] = b["text"].get<std::string>();
    }
    EXPECT_NE(texts[9001].find("你好"), std::string::npos) << texts[9001];
    EXPECT_NE(texts[9002].find("Welcome"), std::string::npos) << texts[9002];
}

TEST_P(TelegramE2E, ForgedOrMissingSecret_Is401_AndStoresNothing) {
    start();
    EXPECT_EQ(post(private_text(1, 42, "/start").dump(), "wrong-secret"), 401);
    EXPECT_EQ(post(private_text(2, 42, "/start").dump(), ""), 401);
    EXPECT_EQ(post(private_text(3, 42, "/start").dump(), std::string(kSecret) + "x"), 401);
    EXPECT_FALSE(lead_of("42"));
    std::this_thread::sleep_for(200ms);
    EXPECT_EQ(fake_->count(), 0u);
}

TEST_P(TelegramE2E, BadInput_IsRejected_AndChangesNothing) {
    start();
    EXPECT_EQ(post(std::string("{not json")), 400);
    EXPECT_EQ(post(std::string("[1,2,3]")), 400);
    EXPECT_EQ(post(json{{"message", {{"text", "no update_id"}}}}), 400);
    EXPECT_EQ(post(std::string(60000, '[')), 400);  // nesting bomb under the size limit
    EXPECT_EQ(post(std::string(70000, ' ')), 413);  // over max_body_bytes
    EXPECT_EQ(RawConn::status_of(testing::http_request(service_->port(), "POST", "/webhooks/nope", "{}")), 404);
    EXPECT_EQ(db().outbox_counts().pending + db().outbox_counts().sent, 0);
}

TEST_P(TelegramE2E, DuplicateDelivery_IsAcknowledged_AndProcessedOnce) {
    start();
    const auto update = private_text(777, 43, "hello there");
    EXPECT_EQ(post(update), 200);
    EXPECT_EQ(post(update), 200);
    EXPECT_EQ(post(update), 200);
    EXPECT_EQ(event_kinds("43"),
              (std::vector<std::string>{"score_changed", "status_changed", "message", "lead_created"}));
    // A duplicate /start does not send a second welcome.
    EXPECT_EQ(post(private_text(778, 43, "/start")), 200);
    EXPECT_EQ(post(private_text(778, 43, "/start")), 200);
    ASSERT_TRUE(fake_->wait_for_count(1, 5s));
    std::this_thread::sleep_for(300ms);
    EXPECT_EQ(fake_->count(), 1u);
}

TEST_P(TelegramE2E, ReferralDeepLink_CreditsTheReferrer) {
    start();
    ASSERT_EQ(post(private_text(10, 100, "/start", "Referrer")), 200);
    auto referrer = lead_of("100");
    ASSERT_TRUE(referrer);
    ASSERT_EQ(post(private_text(11, 200, "/start ref_" + referrer->referral_code, "Friend")), 200);
    auto friend_lead = lead_of("200");
    ASSERT_TRUE(friend_lead);
    EXPECT_EQ(friend_lead->source_kind, "referral");
    EXPECT_EQ(friend_lead->referred_by, referrer->id);
    auto touches = db().list_touches(friend_lead->id);
    ASSERT_EQ(touches.size(), 1u);
    EXPECT_EQ(touches[0].referral_code, referrer->referral_code);
    EXPECT_EQ(lead_of("100")->referral_count, 1);
    EXPECT_EQ(event_kinds("100").front(), "referral_credited");
    // Referring yourself, or an existing lead coming back through a link, earns nothing.
    ASSERT_EQ(post(private_text(12, 100, "/start ref_" + referrer->referral_code)), 200);
    ASSERT_EQ(post(private_text(13, 200, "/start ref_" + referrer->referral_code)), 200);
    EXPECT_EQ(lead_of("100")->referral_count, 1);
    // ...but the later touch is kept.
    EXPECT_EQ(db().list_touches(friend_lead->id).size(), 2u);
    // An unknown code is not a referral.
    ASSERT_EQ(post(private_text(14, 300, "/start ref_zzzzzzzz")), 200);
    EXPECT_EQ(lead_of("300")->source_kind, "inbound");
}

TEST_P(TelegramE2E, StopAndStart_OptTheLeadOutAndBackIn) {
    start();
    ASSERT_EQ(post(private_text(20, 55, "/start")), 200);
    ASSERT_EQ(post(private_text(21, 55, "/stop")), 200);
    EXPECT_TRUE(lead_of("55")->opted_out);
    ASSERT_EQ(post(private_text(22, 55, "/start")), 200);
    EXPECT_FALSE(lead_of("55")->opted_out);
    ASSERT_EQ(post(private_text(23, 55, "退订")), 200);
    EXPECT_TRUE(lead_of("55")->opted_out);
    ASSERT_EQ(post(private_text(24, 55, " Unsubscribe ")), 200);  // already out: no second answer
    const auto kinds = event_kinds("55");
    EXPECT_EQ(std::count(kinds.begin(), kinds.end(), "opted_out"), 2);
    EXPECT_EQ(std::count(kinds.begin(), kinds.end(), "opted_in"), 1);
    // welcome, unsubscribed, resubscribed, unsubscribed
    ASSERT_TRUE(fake_->wait_for_count(4, 5s));
    std::this_thread::sleep_for(300ms);
    EXPECT_EQ(fake_->count(), 4u);
}

TEST_P(TelegramE2E, RecordsEveryUpdateKind) {
    start();
    struct Case {
        const char* fixture;
        std::string user;  // whose timeline gets the event ("" = none)
        std::string kind;
    };
    const std::vector<Case> cases{
        {"private_text", "", "message"},
        {"edited_message", "", "message"},
        {"photo_caption", "", "message"},
        {"contact_shared", "", "contact_shared"},
        {"callback_query", "", "button_press"},
        {"new_chat_members_two", "", "member_joined"},
        {"left_chat_member", "", "member_left"},
        {"chat_member_join", "", "member_joined"},
        {"chat_member_leave", "", "member_left"},
        {"my_chat_member_group_added", "", "bot_added"},
        {"my_chat_member_private_kicked", "", "user_blocked_bot"},
        {"supergroup_help_command", "", "command"},
        {"command_for_other_bot", "", "message"},
        {"chinese_emoji_text", "", "message"},
        {"ids_as_strings", "", "message"},
    };
    for (const auto& c : cases) {
        const auto body = fixture(c.fixture);
        ASSERT_FALSE(body.empty()) << c.fixture;
        EXPECT_EQ(post(body), 200) << c.fixture << "\n" << service_->logs();
        // The subject: from (messages, callbacks), the new member, or from for membership changes.
        const auto j = json::parse(body);
        std::string user;
        if (j.contains("message") && j["message"].contains("new_chat_members")) {
            user = j["message"]["new_chat_members"][0]["id"].dump();
        } else if (j.contains("message") && j["message"].contains("left_chat_member")) {
            user = j["message"]["left_chat_member"]["id"].dump();
        } else if (j.contains("chat_member")) {
            user = j["chat_member"]["new_chat_member"]["user"]["id"].dump();
        } else {
            for (const char* k : {"message", "edited_message", "callback_query", "my_chat_member"}) {
                if (j.contains(k)) user = j[k]["from"]["id"].dump();
            }
        }
        if (!user.empty() && user.front() == '"') user = user.substr(1, user.size() - 2);
        const auto kinds = event_kinds(user);
        EXPECT_NE(std::find(kinds.begin(), kinds.end(), c.kind), kinds.end()) << c.fixture << " user " << user;
    }
    // Contact shared: the phone lands on the lead.
    const auto contact = json::parse(fixture("contact_shared"));
    EXPECT_EQ(lead_of(contact["message"]["from"]["id"].dump())->phone,
              contact["message"]["contact"]["phone_number"].get<std::string>());
    // Group membership: the first new member stayed; the second joined, then left.
    const auto joined = json::parse(fixture("new_chat_members_two"));
    const auto stayed = lead_of(joined["message"]["new_chat_members"][0]["id"].dump());
    const auto left = lead_of(joined["message"]["new_chat_members"][1]["id"].dump());
    ASSERT_TRUE(stayed && left);
    auto memberships = db().list_memberships(stayed->id);
    ASSERT_EQ(memberships.size(), 1u);
    EXPECT_EQ(memberships[0].chat_id, joined["message"]["chat"]["id"].dump());
    EXPECT_TRUE(memberships[0].member);
    auto gone = db().list_memberships(left->id);
    ASSERT_EQ(gone.size(), 1u);
    EXPECT_FALSE(gone[0].member);
    EXPECT_TRUE(gone[0].joined_at && gone[0].left_at);
    // The button press is answered with answerCallbackQuery.
    ASSERT_TRUE(fake_->wait_for([](const auto& r) { return !sends_to(r, "answerCallbackQuery").empty(); }, 5s));
    const auto cb = json::parse(fixture("callback_query"));
    const auto answer = json::parse(sends_to(fake_->requests(), "answerCallbackQuery").front().body);
    EXPECT_EQ(answer["callback_query_id"], cb["callback_query"]["id"]);
    // Blocked: the identity is unreachable.
    const auto kicked = json::parse(fixture("my_chat_member_private_kicked"));
    EXPECT_TRUE(lead_of(kicked["my_chat_member"]["from"]["id"].dump())->unreachable);
    // Unknown update kinds are acknowledged and ignored.
    EXPECT_EQ(post(fixture("message_reaction")), 200);
    EXPECT_EQ(post(fixture("poll")), 200);
}

TEST_P(TelegramE2E, BlockedUser_IsMarkedUnreachable_AndSendsToThemStop) {
    start();
    fake_->set_handler([](const RecordedRequest&) { return tg::blocked(); });
    ASSERT_EQ(post(private_text(30, 66, "/start")), 200);
    ASSERT_TRUE(fake_->wait_for_count(1, 5s));
    for (int i = 0; i < 100 && !lead_of("66")->unreachable; ++i) std::this_thread::sleep_for(20ms);
    EXPECT_TRUE(lead_of("66")->unreachable);
    EXPECT_EQ(db().outbox_counts().dead, 1);
    EXPECT_EQ(event_kinds("66").front(), "unreachable");
    // A second reply for them is not even attempted.
    ASSERT_EQ(post(private_text(31, 66, "/help")), 200);
    for (int i = 0; i < 100 && db().outbox_counts().suppressed < 1; ++i) std::this_thread::sleep_for(20ms);
    EXPECT_EQ(db().outbox_counts().suppressed, 1);
    EXPECT_EQ(fake_->count(), 1u);
    // Coming back with /start makes them reachable again.
    fake_->set_handler(nullptr);
    ASSERT_EQ(post(private_text(32, 66, "/start")), 200);
    EXPECT_FALSE(lead_of("66")->unreachable);
    ASSERT_TRUE(fake_->wait_for_count(2, 5s));
}

TEST_P(TelegramE2E, RateLimited429_WaitsExactlyRetryAfter) {
    start();
    std::atomic<int> calls{0};
    fake_->set_handler([&](const RecordedRequest& r) {
        return calls++ == 0 ? tg::too_many_requests(1) : tg::answer(r);
    });
    ASSERT_EQ(post(private_text(40, 77, "/start")), 200);
    ASSERT_TRUE(fake_->wait_for_count(2, 5s)) << service_->logs();
    const auto r = fake_->requests();
    const auto gap = r[1].at - r[0].at;
    EXPECT_GE(gap, 1000ms);
    EXPECT_LT(gap, 1600ms);
    EXPECT_EQ(r[0].header("idempotency-key"), r[1].header("idempotency-key"));
    for (int i = 0; i < 100 && db().outbox_counts().sent < 1; ++i) std::this_thread::sleep_for(20ms);
    EXPECT_EQ(db().outbox_counts().sent, 1);
}

TEST_P(TelegramE2E, ServerErrorBurst_RetriesWithBackoff_ThenDelivers) {
    start();
    std::atomic<int> calls{0};
    fake_->set_handler([&](const RecordedRequest& r) {
        return calls++ < 3 ? tg::server_error(502) : tg::answer(r);
    });
    ASSERT_EQ(post(private_text(50, 88, "/start")), 200);
    ASSERT_TRUE(fake_->wait_for_count(4, 10s)) << service_->logs();
    for (int i = 0; i < 100 && db().outbox_counts().sent < 1; ++i) std::this_thread::sleep_for(20ms);
    EXPECT_EQ(db().outbox_counts().sent, 1);
    const auto r = fake_->requests();
    EXPECT_EQ(fake_->idempotency_keys().size(), 1u);
    // Backoff: each wait is at least a tenth of base * 2^(n-1) (base 50 ms).
    EXPECT_GE(r[1].at - r[0].at, 5ms);
    EXPECT_GE(r[3].at - r[2].at, 20ms);
    std::this_thread::sleep_for(300ms);
    EXPECT_EQ(fake_->count(), 4u);
}

TEST_P(TelegramE2E, PersistentFailure_IsDeadLettered_AndVisible) {
    start();
    fake_->set_handler([](const RecordedRequest&) { return tg::server_error(500); });
    ASSERT_EQ(post(private_text(60, 99, "/start")), 200);
    ASSERT_TRUE(fake_->wait_for_count(4, 10s));  // max_attempts = 4
    for (int i = 0; i < 200 && db().outbox_counts().dead < 1; ++i) std::this_thread::sleep_for(20ms);
    EXPECT_EQ(db().outbox_counts().dead, 1);
    auto dead = db().list_outbox(core::OutboxStatus::kDead, 10);
    ASSERT_EQ(dead.size(), 1u);
    EXPECT_EQ(dead[0].attempts, 4);
    EXPECT_NE(dead[0].last_error.find("500"), std::string::npos);
    std::this_thread::sleep_for(500ms);
    EXPECT_EQ(fake_->count(), 4u);
}

TEST_P(TelegramE2E, HangingPlatform_TimesOut_AndIsRetried) {
    start();
    std::atomic<int> calls{0};
    fake_->set_handler([&](const RecordedRequest& r) {
        FakeReply reply = tg::answer(r);
        if (calls++ == 0) reply.hang = true;
        return reply;
    });
    ASSERT_EQ(post(private_text(65, 98, "/start")), 200);
    ASSERT_TRUE(fake_->wait_for_count(2, 10s)) << service_->logs();
    const auto r = fake_->requests();
    EXPECT_GE(r[1].at - r[0].at, 1000ms);  // request_timeout_ms
    for (int i = 0; i < 100 && db().outbox_counts().sent < 1; ++i) std::this_thread::sleep_for(20ms);
    EXPECT_EQ(db().outbox_counts().sent, 1);
}

TEST_P(TelegramE2E, PerChatLimit_SpacesMessagesToOneChat) {
    start(R"("base_backoff_ms": 50, "request_timeout_ms": 1000, "lease_ms": 5000)",
          R"("per_second": 100, "per_chat_per_second": 5, "per_group_per_minute": 60)");
    // Three commands from one person: three replies to one chat, at most 5 per second.
    ASSERT_EQ(post(private_text(70, 123, "/start")), 200);
    ASSERT_EQ(post(private_text(71, 123, "/help")), 200);
    ASSERT_EQ(post(private_text(72, 123, "/stop")), 200);
    ASSERT_TRUE(fake_->wait_for_count(3, 5s));
    // The service releases them 200 ms apart; the fake server sees those gaps plus the difference
    // of two requests' transit (15 ms apart once, under a sanitizer build on a loaded machine).
    const auto r = fake_->requests();
    EXPECT_GE(r[1].at - r[0].at, 150ms);
    EXPECT_GE(r[2].at - r[1].at, 150ms);
    EXPECT_GE(r[2].at - r[0].at, 370ms);
}

TEST_P(TelegramE2E, Kill9_WithRepliesQueued_EveryReplyArrivesOnce) {
    constexpr int kReplies = 1000;
    start(R"("base_backoff_ms": 50, "request_timeout_ms": 1000, "lease_ms": 2000, "batch": 100)",
          R"("per_second": 400, "per_chat_per_second": 10, "per_group_per_minute": 600)");
    fake_->set_handler([](const RecordedRequest& r) {
        FakeReply reply = tg::answer(r);
        reply.delay = 2ms;
        return reply;
    });
    // 1,000 people press /start: 1,000 welcome replies go into the outbox.
    std::vector<std::thread> senders;
    std::atomic<int> accepted{0};
    for (int t = 0; t < 4; ++t) {
        senders.emplace_back([&, t] {
            for (int i = t; i < kReplies; i += 4) {
                if (post(private_text(10000 + i, 500000 + i, "/start")) == 200) ++accepted;
            }
        });
    }
    for (auto& s : senders) s.join();
    ASSERT_EQ(accepted.load(), kReplies);
    // Kill it hard while replies are still going out.
    ASSERT_TRUE(fake_->wait_for_count(150, 20s));
    service_->signal(SIGKILL);
    EXPECT_EQ(service_->wait(5s), 128 + SIGKILL);
    const auto before = fake_->idempotency_keys().size();
    EXPECT_LT(before, static_cast<std::size_t>(kReplies)) << "the kill came too late to prove anything";

    service_ = std::make_unique<ServiceProcess>(
        (dir_.path() / "config.json").string(),
        std::vector<std::pair<std::string, std::string>>{{"E2E_TG_TOKEN", kBotToken}, {"E2E_TG_SECRET", kSecret}});
    ASSERT_TRUE(service_->start()) << service_->logs();
    ASSERT_TRUE(fake_->wait_for([&](const auto&) { return fake_->idempotency_keys().size() >= kReplies; }, 60s))
        << "got " << fake_->idempotency_keys().size() << "\n"
        << service_->logs();
    std::this_thread::sleep_for(500ms);
    const auto keys = fake_->idempotency_keys();
    EXPECT_EQ(keys.size(), static_cast<std::size_t>(kReplies));  // every reply, and nothing else
    std::set<std::int64_t> chats;
    for (const auto& r : fake_->requests()) chats.insert(json::parse(r.body)["chat_id"].get<std::int64_t>());
    EXPECT_EQ(chats.size(), static_cast<std::size_t>(kReplies));
    for (int i = 0; i < 200 && db().outbox_counts().sent < kReplies; ++i) std::this_thread::sleep_for(20ms);
    EXPECT_EQ(db().outbox_counts().sent, kReplies);
    EXPECT_EQ(db().outbox_counts().pending, 0);
    const auto resent = fake_->count() - keys.size();
    std::cout << "[ figures  ] kill -9 after " << before << " of " << kReplies << " replies; " << resent
              << " resent after restart (same idempotency key)\n";
}

TEST_P(TelegramE2E, Sigterm_FinishesTheRequestInFlight_AndExitsZero) {
    start();
    RawConn c(service_->port());
    const std::string body = private_text(80, 4242, "in flight").dump();
    c.send("POST /webhooks/tg HTTP/1.1\r\nHost: x\r\nX-Telegram-Bot-Api-Secret-Token: " + std::string(kSecret) +
           "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body.substr(0, 10));
    std::this_thread::sleep_for(200ms);
    service_->signal(SIGTERM);
    std::this_thread::sleep_for(200ms);
    EXPECT_TRUE(service_->running());  // still draining: a request is in flight
    c.send(body.substr(10));
    const auto response = c.read_all(5s);
    EXPECT_EQ(RawConn::status_of(response), 200) << response;
    EXPECT_NE(RawConn::lower(response).find("connection: close"), std::string::npos);
    EXPECT_EQ(service_->wait(10s), 0) << service_->logs();
    EXPECT_TRUE(lead_of("4242"));
}

TEST_P(TelegramE2E, NeverLogsTokensSecretsOrMessageText) {
    start();
    ASSERT_EQ(post(private_text(90, 31337, "my phone is +8613812345678")), 200);
    ASSERT_EQ(post(private_text(91, 31337, "/start")), 200);
    EXPECT_EQ(post(private_text(92, 31337, "x").dump(), "forged"), 401);
    ASSERT_TRUE(fake_->wait_for_count(1, 5s));
    std::this_thread::sleep_for(200ms);
    service_->signal(SIGTERM);
    service_->wait(10s);
    const auto logs = service_->logs();
    EXPECT_EQ(logs.find(kBotToken), std::string::npos);
    EXPECT_EQ(logs.find("AAH-e2e-TOKEN"), std::string::npos);
    EXPECT_EQ(logs.find(kSecret), std::string::npos);
    EXPECT_EQ(logs.find("+8613812345678"), std::string::npos);
    EXPECT_NE(logs.find("rejected: 401"), std::string::npos);  // the rejection itself is logged
}

TEST_P(TelegramE2E, DatabaseUnavailable_Answers503_ThenRecovers) {
    std::unique_ptr<testing::TcpProxy> proxy;
    sqlite3* locker = nullptr;
    if (GetParam() == Backend::kMysql) {
        proxy = std::make_unique<testing::TcpProxy>(static_cast<std::uint16_t>(mysql_->parsed().port));
        auto p = mysql_->parsed();
        start(R"("base_backoff_ms": 50, "request_timeout_ms": 1000, "lease_ms": 3000)",
              R"("per_second": 500, "per_chat_per_second": 100, "per_group_per_minute": 600)", "",
              "mysql://" + p.user + ":" + p.password + "@127.0.0.1:" + std::to_string(proxy->port()) + "/" +
                  p.database);
    } else {
        start(R"("base_backoff_ms": 50, "request_timeout_ms": 1000, "lease_ms": 3000)",
              R"("per_second": 500, "per_chat_per_second": 100, "per_group_per_minute": 600)",
              R"(, "busy_timeout_ms": 200)");
    }
    ASSERT_EQ(post(private_text(1, 1, "before")), 200);
    for (int i = 0; i < 100; ++i) {  // wait for /readyz
        if (RawConn::status_of(testing::http_request(service_->port(), "GET", "/readyz")) == 200) break;
        std::this_thread::sleep_for(20ms);
    }
    // The database goes away: a dead server (MySQL), or a write lock held elsewhere (SQLite).
    if (proxy) {
        proxy->cut();
    } else {
        ASSERT_EQ(sqlite3_open((dir_.path() / "e2e.db").c_str(), &locker), SQLITE_OK);
        ASSERT_EQ(sqlite3_exec(locker, "BEGIN EXCLUSIVE", nullptr, nullptr, nullptr), SQLITE_OK);
    }
    const auto update = private_text(2, 2, "during the outage");
    EXPECT_EQ(post(update), 503);
    EXPECT_EQ(post(update), 503);
    if (proxy) {
        EXPECT_EQ(RawConn::status_of(testing::http_request(service_->port(), "GET", "/readyz")), 503);
    }
    EXPECT_EQ(RawConn::status_of(testing::http_request(service_->port(), "GET", "/healthz")), 200);
    // Back: the platform's retry of the same update is stored, once.
    if (proxy) {
        proxy->restore();
    } else {
        sqlite3_exec(locker, "ROLLBACK", nullptr, nullptr, nullptr);
        sqlite3_close(locker);
    }
    int status = 0;
    for (int i = 0; i < 50 && status != 200; ++i) {
        status = post(update);
        if (status != 200) std::this_thread::sleep_for(100ms);
    }
    EXPECT_EQ(status, 200) << service_->logs();
    EXPECT_EQ(post(update), 200);
    EXPECT_EQ(event_kinds("2"),
              (std::vector<std::string>{"score_changed", "status_changed", "message", "lead_created"}));
    EXPECT_EQ(RawConn::status_of(testing::http_request(service_->port(), "GET", "/readyz")), 200);
}

TEST_P(TelegramE2E, Metrics_CountDeliveriesAndSends) {
    start();
    ASSERT_EQ(post(private_text(1, 5, "/start")), 200);
    ASSERT_EQ(post(private_text(1, 5, "/start")), 200);
    EXPECT_EQ(post(private_text(2, 5, "x").dump(), "bad"), 401);
    ASSERT_TRUE(fake_->wait_for_count(1, 5s));
    std::this_thread::sleep_for(300ms);
    const auto text = RawConn::body_of(testing::http_request(service_->port(), "GET", "/metrics"));
    EXPECT_NE(text.find(R"(leadhatch_webhook_deliveries_total{channel="tg",outcome="accepted"} 1)"), std::string::npos)
        << text;
    EXPECT_NE(text.find(R"(leadhatch_webhook_deliveries_total{channel="tg",outcome="duplicate"} 1)"), std::string::npos);
    EXPECT_NE(text.find(R"(leadhatch_webhook_deliveries_total{channel="tg",outcome="rejected"} 1)"), std::string::npos);
    EXPECT_NE(text.find("leadhatch_outbox_sent_total 1"), std::string::npos);
    EXPECT_NE(text.find(R"(leadhatch_http_requests_total{route="/webhooks/{channel_id}",status="401"} 1)"),
              std::string::npos);
    EXPECT_NE(text.find("leadhatch_db_pool_connections"), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(Backends, TelegramE2E, ::testing::Values(Backend::kSqlite, Backend::kMysql),
                         testing::backend_name);

}  // namespace
}  // namespace leadhatch
