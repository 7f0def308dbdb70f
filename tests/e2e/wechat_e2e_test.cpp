// End to end: the real leadhatch binary, a fake WeChat / WeCom API on loopback, and a real database
// (SQLite file, and MariaDB when LEADHATCH_TEST_MYSQL_URL is set). Callbacks are shaped as Tencent
// documents them; safe-mode and WeCom bodies are encrypted and signed with the scheme's own code.
#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>

#include <nlohmann/json.hpp>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include "adapters/chat/wechat/wechat_crypto.hpp"
#include "adapters/chat/wechat/xml.hpp"
#include "adapters/net/url.hpp"
#include "adapters/storage/storage_factory.hpp"
#include "tests/support/fake_platform.hpp"
#include "tests/support/raw_http.hpp"
#include "tests/support/service_process.hpp"
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
namespace wx = adapters::wechat;

constexpr const char* kOaToken = "e2eWechatToken";
constexpr const char* kOaSecret = "e2e-app-secret-DO-NOT-LOG";
constexpr const char* kOaAppId = "wxe2e0000000000001";
constexpr const char* kSafeAppId = "wxe2e00000000safe1";
constexpr const char* kAesKey = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";
// WeCom: Tencent's published sample values (weworkapi Sample.cpp), so the URL verification vector
// works against the real binary.
constexpr const char* kCorpId = "wx5823bf96d3bd56c7";
constexpr const char* kWecomToken = "QDG6eK";
constexpr const char* kWecomAesKey = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C";
constexpr const char* kWecomSecret = "e2e-corp-secret-DO-NOT-LOG";
constexpr const char* kAdmin = "wx-admin-token-0123456789";
constexpr const char* kMarketer = "wx-marketer-token-0123456789";
constexpr const char* kSales = "wx-sales-token-0123456789";

constexpr const char* kExpoText = "展会资料：https://example.com/expo";
constexpr const char* kPricingText = "价格方案：基础版每月 99 元";

wx::MessageCrypto crypto(std::string_view token, std::string_view key, std::string_view receive_id) {
    auto c = wx::MessageCrypto::create(token, key, receive_id);
    return std::get<wx::MessageCrypto>(std::move(c));
}

std::string cdata(const std::string& s) { return "<![CDATA[" + s + "]]>"; }

std::string oa_text(const std::string& openid, const std::string& content, std::int64_t msg_id,
                    std::int64_t created = 1732350000) {
    return "<xml><ToUserName>" + cdata("gh_e2e") + "</ToUserName><FromUserName>" + cdata(openid) +
           "</FromUserName><CreateTime>" + std::to_string(created) + "</CreateTime><MsgType>" + cdata("text") +
           "</MsgType><Content>" + cdata(content) + "</Content><MsgId>" + std::to_string(msg_id) + "</MsgId></xml>";
}

std::string oa_event(const std::string& openid, const std::string& event, const std::string& key = {},
                     std::int64_t created = 1732350000) {
    std::string x = "<xml><ToUserName>" + cdata("gh_e2e") + "</ToUserName><FromUserName>" + cdata(openid) +
                    "</FromUserName><CreateTime>" + std::to_string(created) + "</CreateTime><MsgType>" +
                    cdata("event") + "</MsgType><Event>" + cdata(event) + "</Event>";
    if (!key.empty()) x += "<EventKey>" + cdata(key) + "</EventKey><Ticket>" + cdata("TICKET") + "</Ticket>";
    return x + "</xml>";
}

std::string wecom_contact(const std::string& change, const std::string& external, const std::string& employee,
                          const std::string& state, const std::string& welcome_code, std::int64_t created) {
    std::string x = "<xml><ToUserName>" + cdata(kCorpId) + "</ToUserName><FromUserName>" + cdata("sys") +
                    "</FromUserName><CreateTime>" + std::to_string(created) + "</CreateTime><MsgType>" +
                    cdata("event") + "</MsgType><Event>" + cdata("change_external_contact") + "</Event><ChangeType>" +
                    cdata(change) + "</ChangeType><UserID>" + cdata(employee) + "</UserID><ExternalUserID>" +
                    cdata(external) + "</ExternalUserID>";
    if (!state.empty()) x += "<State>" + cdata(state) + "</State>";
    if (!welcome_code.empty()) x += "<WelcomeCode>" + cdata(welcome_code) + "</WelcomeCode>";
    return x + "</xml>";
}

std::string wecom_app_text(const std::string& employee, const std::string& content, std::int64_t msg_id) {
    return "<xml><ToUserName>" + cdata(kCorpId) + "</ToUserName><FromUserName>" + cdata(employee) +
           "</FromUserName><CreateTime>1732350000</CreateTime><MsgType>" + cdata("text") + "</MsgType><Content>" +
           cdata(content) + "</Content><MsgId>" + std::to_string(msg_id) + "</MsgId><AgentID>218</AgentID></xml>";
}

std::string wecom_chat(const std::string& change, const std::string& detail, const std::vector<std::string>& members,
                       std::int64_t created) {
    std::string x = "<xml><ToUserName>" + cdata(kCorpId) + "</ToUserName><FromUserName>" + cdata("sys") +
                    "</FromUserName><CreateTime>" + std::to_string(created) + "</CreateTime><MsgType>" +
                    cdata("event") + "</MsgType><Event>" + cdata("change_external_chat") + "</Event><ChatId>" +
                    cdata("wrOgQhDgAAMYQiS5ol9G7gK9JVAAAA") + "</ChatId><ChangeType>" + cdata(change) +
                    "</ChangeType>";
    if (!detail.empty()) {
        x += "<UpdateDetail>" + cdata(detail) + "</UpdateDetail><MemChangeCnt>" + std::to_string(members.size()) +
             "</MemChangeCnt><MemChangeList>";
        for (const auto& m : members) x += "<Item>" + cdata(m) + "</Item>";
        x += "</MemChangeList><CurMemVer>" + cdata("v" + std::to_string(created)) + "</CurMemVer>";
    }
    return x + "</xml>";
}

std::string query_of(const std::vector<std::pair<std::string, std::string>>& params) {
    std::string q;
    for (const auto& [k, v] : params) q += (q.empty() ? "" : "&") + k + "=" + adapters::net::percent_encode(v);
    return q;
}

std::string access_token_of(const RecordedRequest& r) {
    const auto q = r.target.find('?');
    return adapters::net::query_param(q == std::string::npos ? "" : r.target.substr(q + 1), "access_token")
        .value_or("");
}

std::string path_of(const RecordedRequest& r) { return r.target.substr(0, r.target.find('?')); }

struct Reply {
    int status = 0;
    std::string body;
};

using testing::Backend;

class WechatE2E : public ::testing::TestWithParam<Backend> {
protected:
    void SetUp() override {
        auto url = testing::e2e_storage_url(GetParam(), dir_.path() / "e2e.db", mysql_);
        if (!url) return;
        storage_url_ = *url;
        fake_ = std::make_unique<FakePlatform>([this](const RecordedRequest& r) { return platform(r); });
        // The shipped templates plus a scene's own message and a menu option's answer.
        const auto templates = dir_.path() / "templates";
        std::filesystem::copy(testing::source_dir() + "/templates", templates,
                              std::filesystem::copy_options::recursive);
        const auto zh = templates / "messages" / "zh-CN.json";
        std::ifstream in(zh);
        json messages = json::parse(in);
        in.close();
        messages["scene.src_expo"] = kExpoText;
        messages["button.menu:pricing"] = kPricingText;
        std::ofstream(zh) << messages.dump(2);
    }

    void TearDown() override {
        if (service_ && service_->running()) {
            service_->signal(SIGTERM);
            service_->wait(10s);
        }
    }

    // The fake WeChat and WeCom APIs, as documented. `send_errors` are errcodes answered to the
    // next customer-service sends, in order.
    FakeReply platform(const RecordedRequest& r) {
        FakeReply reply;
        const auto path = path_of(r);
        std::lock_guard lk(mu_);
        if (path == "/cgi-bin/token") {
            reply.body = json{{"access_token", "OATOKEN-" + std::to_string(++oa_tokens_)}, {"expires_in", 7200}}.dump();
        } else if (path == "/cgi-bin/gettoken") {
            reply.body = json{{"errcode", 0},
                              {"errmsg", "ok"},
                              {"access_token", "WCTOKEN-" + std::to_string(++wc_tokens_)},
                              {"expires_in", 7200}}
                             .dump();
        } else if (path == "/cgi-bin/message/custom/send") {
            int code = 0;
            if (!send_errors_.empty()) {
                code = send_errors_.front();
                send_errors_.erase(send_errors_.begin());
            }
            // A token that is no longer the newest is refused, as WeChat does.
            if (code == 0 && access_token_of(r) != "OATOKEN-" + std::to_string(oa_tokens_)) code = 40001;
            reply.body = code == 0 ? R"({"errcode":0,"errmsg":"ok"})"
                                   : json{{"errcode", code}, {"errmsg", "error " + std::to_string(code)}}.dump();
        } else if (path == "/cgi-bin/qrcode/create") {
            const auto body = json::parse(r.body, nullptr, false);
            reply.body = json{{"ticket", "gQH47joAAAAAAAAAASxodHRwOi8vd2VpeGluLnFxLmNvbS9xL2taZ2Z3TVRtNzJXV1Brb3ZhYmJJAA=="},
                              {"expire_seconds", body.value("expire_seconds", 0)},
                              {"url", "http://weixin.qq.com/q/kZgfwMTm72WWPkovabbI"}}
                             .dump();
            if (body.value("action_name", "") == "QR_LIMIT_STR_SCENE") {
                reply.body = json{{"ticket", "gQHPERMANENT=="}, {"url", "http://weixin.qq.com/q/permanent"}}.dump();
            }
        } else if (path == "/cgi-bin/message/send") {
            reply.body = R"({"errcode":0,"errmsg":"ok","invaliduser":"","invalidparty":"","invalidtag":"","msgid":"m1"})";
        } else if (path == "/cgi-bin/externalcontact/send_welcome_msg") {
            reply.body = R"({"errcode":0,"errmsg":"ok"})";
        } else {
            reply.status = 404;
            reply.body = R"({"errcode":404,"errmsg":"unknown"})";
        }
        return reply;
    }

    void start(const std::string& storage_extra = "") {
        const auto cfg = dir_.path() / "config.json";
        std::ofstream(cfg) << R"({
          "server": { "listen": "127.0.0.1:0", "threads": 2, "max_body_bytes": 65536, "shutdown_timeout_ms": 5000 },
          "storage": { "url": ")" << storage_url_ << "\"" << storage_extra << R"( },
          "templates_dir": ")" << (dir_.path() / "templates").string() << R"(",
          "logging": { "level": "debug" },
          "outbox": { "base_backoff_ms": 50, "max_backoff_ms": 400, "max_attempts": 4, "request_timeout_ms": 1000,
                      "lease_ms": 3000 },
          "admin_tokens": [ { "name": "ops", "role": "admin", "token": ")" << kAdmin << R"(" },
                            { "name": "mia", "role": "marketer", "token": ")" << kMarketer << R"(" },
                            { "name": "alice", "role": "sales", "token": ")" << kSales << R"(" } ],
          "channels": [
            { "id": "wx", "platform": "wechat_oa", "app_id": ")" << kOaAppId << R"(", "app_secret": "${E2E_WX_SECRET}",
              "token": "${E2E_WX_TOKEN}", "api_base": ")" << fake_->base_url() << R"(",
              "rate_limits": { "per_second": 500, "per_chat_per_second": 100, "per_group_per_minute": 600 } },
            { "id": "wxs", "platform": "wechat_oa", "app_id": ")" << kSafeAppId << R"(", "app_secret": "${E2E_WX_SECRET}",
              "token": "${E2E_WX_TOKEN}", "encoding_aes_key": "${E2E_WX_AES}", "api_base": ")" << fake_->base_url() << R"(" },
            { "id": "wecom", "platform": "wecom", "corp_id": ")" << kCorpId << R"(", "agent_id": "218",
              "secret": "${E2E_WECOM_SECRET}", "token": ")" << kWecomToken << R"(", "encoding_aes_key": ")" << kWecomAesKey
                           << R"(", "api_base": ")" << fake_->base_url() << R"(" }
          ]
        })";
        service_ = std::make_unique<ServiceProcess>(
            cfg.string(), std::vector<std::pair<std::string, std::string>>{{"E2E_WX_SECRET", kOaSecret},
                                                                           {"E2E_WX_TOKEN", kOaToken},
                                                                           {"E2E_WX_AES", kAesKey},
                                                                           {"E2E_WECOM_SECRET", kWecomSecret}});
        ASSERT_TRUE(service_->start()) << service_->logs();
    }

    Reply http(const std::string& method, const std::string& target, const std::string& body = {},
               const std::string& headers = {}, std::chrono::milliseconds timeout = 5s) {
        const auto raw = testing::http_request(service_->port(), method, target, body, headers, timeout);
        return Reply{RawConn::status_of(raw), RawConn::body_of(raw)};
    }

    // A plaintext Official Account callback, signed as WeChat signs it.
    Reply oa_post(const std::string& xml, const std::string& timestamp = "1732350001", const std::string& nonce = "4242") {
        const auto sig = wx::sha1_signature({kOaToken, timestamp, nonce});
        return http("POST", "/webhooks/wx?" + query_of({{"signature", sig}, {"timestamp", timestamp}, {"nonce", nonce},
                                                         {"openid", "x"}}),
                    xml, "Content-Type: text/xml\r\n");
    }

    // A safe-mode callback for channel wxs: encrypted for `app_id`, signed with msg_signature.
    Reply safe_post(const std::string& xml, const std::string& app_id = kSafeAppId, bool tamper = false) {
        const auto c = crypto(kOaToken, kAesKey, app_id);
        const std::string ts = "1732350002";
        const std::string nonce = "98765";
        const auto encrypt = c.encrypt(xml);
        auto msg_sig = c.sign(ts, nonce, encrypt);
        if (tamper) msg_sig[0] = msg_sig[0] == 'a' ? 'b' : 'a';
        const std::string body = "<xml><ToUserName>" + cdata("gh_e2e") + "</ToUserName><Encrypt>" + cdata(encrypt) +
                                 "</Encrypt></xml>";
        return http("POST",
                    "/webhooks/wxs?" + query_of({{"signature", wx::sha1_signature({kOaToken, ts, nonce})},
                                                 {"timestamp", ts},
                                                 {"nonce", nonce},
                                                 {"encrypt_type", "aes"},
                                                 {"msg_signature", msg_sig}}),
                    body, "Content-Type: text/xml\r\n");
    }

    Reply wecom_post(const std::string& xml) {
        const auto c = crypto(kWecomToken, kWecomAesKey, kCorpId);
        const std::string ts = "1732350003";
        const std::string nonce = "55555";
        const auto encrypt = c.encrypt(xml);
        const std::string body = "<xml><ToUserName>" + cdata(kCorpId) + "</ToUserName><AgentID>" + cdata("218") +
                                 "</AgentID><Encrypt>" + cdata(encrypt) + "</Encrypt></xml>";
        return http("POST",
                    "/webhooks/wecom?" + query_of({{"msg_signature", c.sign(ts, nonce, encrypt)},
                                                   {"timestamp", ts},
                                                   {"nonce", nonce}}),
                    body, "Content-Type: text/xml\r\n");
    }

    Reply api(const std::string& method, const std::string& target, const std::string& token,
              const std::string& body = {}) {
        std::string headers = token.empty() ? "" : "Authorization: Bearer " + token + "\r\n";
        if (!body.empty()) headers += "Content-Type: application/json\r\n";
        return http(method, target, body, headers);
    }

    core::Storage& db() {
        if (!storage_) {
            auto parsed = adapters::storage::parse_storage_url(storage_url_, dir_.path());
            storage_ = adapters::storage::make_storage(*parsed, {});
        }
        return *storage_;
    }

    std::optional<core::LeadRecord> lead_of(const std::string& channel, const std::string& user) {
        auto id = db().find_lead_by_identity({channel, user});
        if (!id) return std::nullopt;
        return db().get_lead(*id);
    }

    std::vector<core::EventRecord> events_of(const std::string& channel, const std::string& user) {
        auto id = db().find_lead_by_identity({channel, user});
        if (!id) return {};
        return db().list_events(*id, std::nullopt, 100);
    }

    int count_kind(const std::string& channel, const std::string& user, const std::string& kind) {
        int n = 0;
        for (const auto& e : events_of(channel, user)) n += e.kind == kind ? 1 : 0;
        return n;
    }

    std::vector<RecordedRequest> calls(const std::string& path) const {
        std::vector<RecordedRequest> out;
        for (const auto& r : fake_->requests()) {
            if (path_of(r) == path) out.push_back(r);
        }
        return out;
    }

    bool wait_calls(const std::string& path, std::size_t n, std::chrono::milliseconds timeout = 5s) const {
        return fake_->wait_for(
            [&](const std::vector<RecordedRequest>& all) {
                std::size_t c = 0;
                for (const auto& r : all) c += path_of(r) == path ? 1 : 0;
                return c >= n;
            },
            timeout);
    }

    template <class Pred>
    bool eventually(Pred pred, std::chrono::milliseconds timeout = 5s) {
        const auto until = std::chrono::steady_clock::now() + timeout;
        while (std::chrono::steady_clock::now() < until) {
            if (pred()) return true;
            std::this_thread::sleep_for(20ms);
        }
        return pred();
    }

    std::string requests_text() const {
        std::string out = "\nfake platform saw:\n";
        for (const auto& r : fake_->requests()) out += r.method + " " + r.target + " " + r.body + "\n";
        return out;
    }

    // The passive reply in an answer body: its <Content>, or "" when the answer is not one.
    static std::string passive_content(const std::string& body) {
        auto x = wx::parse_xml(body);
        if (!std::holds_alternative<wx::XmlElement>(x)) return {};
        return std::get<wx::XmlElement>(x).child_text("Content");
    }

    // The fake's state first: it outlives the fake server that reads it.
    std::mutex mu_;
    int oa_tokens_ = 0;
    int wc_tokens_ = 0;
    std::vector<int> send_errors_;
    testing::TempDir dir_;
    std::unique_ptr<testing::MysqlTestDatabase> mysql_;
    std::string storage_url_;
    std::unique_ptr<FakePlatform> fake_;
    std::unique_ptr<ServiceProcess> service_;
    std::unique_ptr<core::Storage> storage_;
};

TEST_P(WechatE2E, ServerVerification_EchoesEchostr_PlainAndWecom) {
    start();
    const std::string ts = "1732350000";
    const std::string nonce = "123";
    const auto sig = wx::sha1_signature({kOaToken, ts, nonce});
    auto r = http("GET", "/webhooks/wx?" + query_of({{"signature", sig}, {"timestamp", ts}, {"nonce", nonce},
                                                      {"echostr", "5837397520665436492"}}));
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, "5837397520665436492");
    r = http("GET", "/webhooks/wx?" + query_of({{"signature", sig}, {"timestamp", "1732350009"}, {"nonce", nonce},
                                                 {"echostr", "5837397520665436492"}}));
    EXPECT_EQ(r.status, 401);
    EXPECT_NE(r.body, "5837397520665436492");
    // WeCom: Tencent's published URL-verification vector, echostr answered decrypted.
    r = http("GET", "/webhooks/wecom?" +
                        query_of({{"msg_signature", "5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3"},
                                  {"timestamp", "1409659589"},
                                  {"nonce", "263014780"},
                                  {"echostr", "P9nAzCzyDtyTWESHep1vC5X9xho/qYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp+"
                                              "4RPcs8TgAE7OaBO+FZXvnaqQ=="}}));
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, "1616140317555161061");
}

TEST_P(WechatE2E, FollowViaQrScenes_CreatesLeadsWithTheirSource) {
    start();
    ASSERT_EQ(oa_post(oa_event("oSpring01", "subscribe", "qrscene_src_spring")).status, 200);
    auto spring = lead_of("wx", "oSpring01");
    ASSERT_TRUE(spring) << service_->logs();
    EXPECT_EQ(spring->source_kind, "campaign");
    EXPECT_EQ(spring->source_campaign, "spring");
    EXPECT_EQ(spring->source_channel, "wx");
    EXPECT_FALSE(spring->unreachable);

    ASSERT_EQ(oa_post(oa_event("oFriend02", "subscribe", "qrscene_ref_" + spring->referral_code)).status, 200);
    auto friend_lead = lead_of("wx", "oFriend02");
    ASSERT_TRUE(friend_lead);
    EXPECT_EQ(friend_lead->source_kind, "referral");
    EXPECT_EQ(friend_lead->referred_by, spring->id);
    EXPECT_EQ(lead_of("wx", "oSpring01")->referral_count, 1);

    ASSERT_EQ(oa_post(oa_event("oRep03", "subscribe", "qrscene_rep_alice")).status, 200);
    auto rep = lead_of("wx", "oRep03");
    ASSERT_TRUE(rep);
    EXPECT_EQ(rep->owner, "alice");
    EXPECT_EQ(rep->source_campaign, "rep_alice");
    EXPECT_EQ(count_kind("wx", "oRep03", "owner_changed"), 1);

    // A follower scanning another code (SCAN): a touch, no second lead, owner kept.
    ASSERT_EQ(oa_post(oa_event("oRep03", "SCAN", "src_autumn", 1732350100)).status, 200);
    EXPECT_EQ(db().list_touches(rep->id).size(), 2u);
    EXPECT_EQ(lead_of("wx", "oRep03")->owner, "alice");
}

TEST_P(WechatE2E, TextMessage_GoesOnTheTimeline) {
    start();
    const auto r = oa_post(oa_text("oText01", "你好，我想了解价格", 70001));
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, "success");
    const auto events = events_of("wx", "oText01");
    ASSERT_FALSE(events.empty()) << service_->logs();
    bool found = false;
    for (const auto& e : events) {
        if (e.kind == "message") {
            found = true;
            EXPECT_NE(e.data.find("你好，我想了解价格"), std::string::npos) << e.data;
            EXPECT_NE(e.data.find("70001"), std::string::npos) << e.data;
        }
    }
    EXPECT_TRUE(found);
    EXPECT_EQ(lead_of("wx", "oText01")->status, "engaged");
}

TEST_P(WechatE2E, PassiveReply_ComesInTheAnswer_AndARetryGetsSuccess_ProcessedOnce) {
    start();
    const auto follow = oa_event("oPassive01", "subscribe", "", 1732350500);
    const auto first = oa_post(follow);
    ASSERT_EQ(first.status, 200);
    auto x = wx::parse_xml(first.body);
    ASSERT_TRUE(std::holds_alternative<wx::XmlElement>(x)) << first.body;
    const auto& reply = std::get<wx::XmlElement>(x);
    EXPECT_EQ(reply.child_text("ToUserName"), "oPassive01");
    EXPECT_EQ(reply.child_text("FromUserName"), "gh_e2e");
    EXPECT_EQ(reply.child_text("MsgType"), "text");
    const auto content = reply.child_text("Content");
    EXPECT_NE(content.find("欢迎关注"), std::string::npos) << content;
    EXPECT_NE(content.find("\n\n1. 价格方案\n2. 预约演示\n3. 联系人工"), std::string::npos) << content;

    // WeChat retries the same event (no answer within 5 s, as it sees it): acknowledged, not redone.
    const auto retry = oa_post(follow, "1732350777", "999");
    EXPECT_EQ(retry.status, 200);
    EXPECT_EQ(retry.body, "success");
    EXPECT_EQ(count_kind("wx", "oPassive01", "follow"), 1);
    EXPECT_EQ(count_kind("wx", "oPassive01", "lead_created"), 1);
    // The passive reply is recorded as sent; nothing goes through the API.
    EXPECT_EQ(db().outbox_counts().sent, 1);
    EXPECT_EQ(db().outbox_counts().pending, 0);
    std::this_thread::sleep_for(300ms);
    EXPECT_TRUE(calls("/cgi-bin/message/custom/send").empty());
    // The same message id twice is one message.
    EXPECT_EQ(oa_post(oa_text("oPassive01", "hello", 80001)).status, 200);
    EXPECT_EQ(oa_post(oa_text("oPassive01", "hello", 80001), "1732350888").status, 200);
    EXPECT_EQ(count_kind("wx", "oPassive01", "message"), 1);
}

TEST_P(WechatE2E, SafeMode_PassiveReplyIsEncryptedAndSigned) {
    start();
    const auto r = safe_post(oa_event("oSafe01", "subscribe"));
    ASSERT_EQ(r.status, 200) << r.body;
    auto outer = wx::parse_xml(r.body);
    ASSERT_TRUE(std::holds_alternative<wx::XmlElement>(outer)) << r.body;
    const auto& o = std::get<wx::XmlElement>(outer);
    EXPECT_EQ(o.child("Content"), nullptr);
    EXPECT_EQ(o.child_text("Nonce"), "98765");
    const auto c = crypto(kOaToken, kAesKey, kSafeAppId);
    ASSERT_TRUE(c.verify(o.child_text("MsgSignature"), o.child_text("TimeStamp"), o.child_text("Nonce"),
                         o.child_text("Encrypt")));
    const auto plain = c.decrypt(o.child_text("Encrypt"));
    ASSERT_TRUE(std::holds_alternative<std::string>(plain));
    EXPECT_NE(passive_content(std::get<std::string>(plain)).find("欢迎关注"), std::string::npos);
    EXPECT_TRUE(lead_of("wxs", "oSafe01"));
}

TEST_P(WechatE2E, TamperedOrForeignMessages_Are401_AndStoreNothing) {
    start();
    // Plaintext with a wrong signature.
    const auto xml = oa_event("oForged01", "subscribe", "qrscene_src_x");
    auto r = http("POST", "/webhooks/wx?" + query_of({{"signature", wx::sha1_signature({"other", "1", "2"})},
                                                       {"timestamp", "1"},
                                                       {"nonce", "2"}}),
                  xml);
    EXPECT_EQ(r.status, 401);
    EXPECT_EQ(http("POST", "/webhooks/wx", xml).status, 401);  // no signature at all
    // Safe mode: a tampered msg_signature, a message for another account, plaintext instead.
    EXPECT_EQ(safe_post(oa_event("oForged02", "subscribe"), kSafeAppId, true).status, 401);
    EXPECT_EQ(safe_post(oa_event("oForged03", "subscribe"), "wxSomeOtherAccount").status, 401);
    const auto sig = wx::sha1_signature({kOaToken, "5", "6"});
    EXPECT_EQ(http("POST", "/webhooks/wxs?" + query_of({{"signature", sig}, {"timestamp", "5"}, {"nonce", "6"}}),
                   oa_event("oForged04", "subscribe"))
                  .status,
              401);
    // Malformed and DTD-carrying bodies are 400.
    EXPECT_EQ(oa_post("<xml><FromUserName>oForged05</FromUserName>").status, 400);
    EXPECT_EQ(oa_post("<!DOCTYPE xml [<!ENTITY e SYSTEM \"file:///etc/passwd\">]><xml><FromUserName>&e;"
                      "</FromUserName><MsgType>text</MsgType></xml>")
                  .status,
              400);
    for (const char* u : {"oForged01", "oForged02", "oForged03", "oForged04", "oForged05"}) {
        EXPECT_FALSE(lead_of("wx", u)) << u;
        EXPECT_FALSE(lead_of("wxs", u)) << u;
    }
    EXPECT_EQ(db().outbox_counts().sent + db().outbox_counts().pending, 0);
}

TEST_P(WechatE2E, SecondReply_GoesThroughCustomerService_WithOneTokenForManySends) {
    start();
    constexpr int kFollowers = 6;
    for (int i = 0; i < kFollowers; ++i) {
        const auto r = oa_post(oa_event("oExpo0" + std::to_string(i), "subscribe", "qrscene_src_expo"));
        ASSERT_EQ(r.status, 200);
        EXPECT_NE(passive_content(r.body).find("欢迎关注"), std::string::npos) << r.body;  // the first reply
    }
    // The scene's own message is the second reply of each delivery: sent through the API.
    ASSERT_TRUE(wait_calls("/cgi-bin/message/custom/send", kFollowers)) << service_->logs();
    std::set<std::string> to;
    for (const auto& c : calls("/cgi-bin/message/custom/send")) {
        const auto body = json::parse(c.body);
        EXPECT_EQ(body["msgtype"], "text");
        EXPECT_EQ(body["text"]["content"], kExpoText);
        EXPECT_EQ(access_token_of(c), "OATOKEN-1");
        to.insert(body["touser"].get<std::string>());
    }
    EXPECT_EQ(to.size(), static_cast<std::size_t>(kFollowers));
    EXPECT_EQ(calls("/cgi-bin/token").size(), 1u);
    const auto token_call = calls("/cgi-bin/token").front();
    EXPECT_NE(token_call.target.find("appid=" + std::string(kOaAppId)), std::string::npos);
    EXPECT_TRUE(eventually([&] { return db().outbox_counts().sent == 2 * kFollowers; }));
}

TEST_P(WechatE2E, TokenRejectedMidRun_IsRefreshedOnce_AndTheSendRetried) {
    start();
    // Warm up: a token exists and works.
    ASSERT_EQ(oa_post(oa_event("oTok01", "subscribe", "qrscene_src_expo")).status, 200);
    ASSERT_TRUE(wait_calls("/cgi-bin/message/custom/send", 1));
    {
        std::lock_guard lk(mu_);
        send_errors_ = {40001};  // WeChat invalidated the token (e.g. another system fetched one)
    }
    ASSERT_EQ(oa_post(oa_event("oTok02", "subscribe", "qrscene_src_expo")).status, 200);
    ASSERT_TRUE(wait_calls("/cgi-bin/message/custom/send", 3)) << service_->logs() << requests_text();
    EXPECT_TRUE(eventually([&] { return db().outbox_counts().sent == 4; })) << service_->logs();
    std::this_thread::sleep_for(300ms);
    const auto sends = calls("/cgi-bin/message/custom/send");
    ASSERT_EQ(sends.size(), 3u);
    EXPECT_EQ(access_token_of(sends[1]), "OATOKEN-1");
    EXPECT_EQ(access_token_of(sends[2]), "OATOKEN-2");
    EXPECT_EQ(calls("/cgi-bin/token").size(), 2u);  // exactly one refresh
    EXPECT_EQ(db().outbox_counts().dead, 0);
}

TEST_P(WechatE2E, OutsideThe48HourWindow_IsRecordedAsNotPossible_AndNotRetried) {
    start();
    {
        std::lock_guard lk(mu_);
        send_errors_ = {45015};
    }
    ASSERT_EQ(oa_post(oa_event("oLate01", "subscribe", "qrscene_src_expo")).status, 200);
    ASSERT_TRUE(wait_calls("/cgi-bin/message/custom/send", 1));
    EXPECT_TRUE(eventually([&] { return db().outbox_counts().suppressed == 1; })) << service_->logs();
    std::this_thread::sleep_for(800ms);  // several backoffs' worth: no retry
    EXPECT_EQ(calls("/cgi-bin/message/custom/send").size(), 1u);
    const auto rows = db().list_outbox(core::OutboxStatus::kSuppressed, 10);
    ASSERT_EQ(rows.size(), 1u);
    EXPECT_NE(rows[0].last_error.find("45015"), std::string::npos);
    EXPECT_EQ(db().outbox_counts().pending, 0);
}

TEST_P(WechatE2E, Unfollow_MarksUnreachable_AndRefollowRestores) {
    start();
    ASSERT_EQ(oa_post(oa_event("oBye01", "subscribe", "", 1732351000)).status, 200);
    EXPECT_FALSE(lead_of("wx", "oBye01")->unreachable);
    const auto gone = oa_post(oa_event("oBye01", "unsubscribe", "", 1732351100));
    EXPECT_EQ(gone.status, 200);
    EXPECT_EQ(gone.body, "success");
    EXPECT_TRUE(lead_of("wx", "oBye01")->unreachable);
    const auto back = oa_post(oa_event("oBye01", "subscribe", "", 1732351200));
    EXPECT_EQ(back.status, 200);
    EXPECT_FALSE(lead_of("wx", "oBye01")->unreachable);
    EXPECT_NE(passive_content(back.body).find("欢迎关注"), std::string::npos);  // welcomed back
    EXPECT_EQ(count_kind("wx", "oBye01", "follow"), 2);
    EXPECT_EQ(count_kind("wx", "oBye01", "unfollow"), 1);
    EXPECT_EQ(count_kind("wx", "oBye01", "lead_created"), 1);
}

TEST_P(WechatE2E, NumberedMenu_ANumberPressesTheOption) {
    start();
    const auto welcome = oa_post(oa_event("oMenu01", "subscribe"));
    ASSERT_NE(passive_content(welcome.body).find("1. 价格方案"), std::string::npos) << welcome.body;
    const auto chosen = oa_post(oa_text("oMenu01", "1", 90001));
    EXPECT_EQ(chosen.status, 200);
    EXPECT_EQ(passive_content(chosen.body), kPricingText) << chosen.body;
    bool pressed = false;
    for (const auto& e : events_of("wx", "oMenu01")) {
        if (e.kind == "button_press" && e.data.find("\"data\":\"menu:pricing\"") != std::string::npos) pressed = true;
    }
    EXPECT_TRUE(pressed);
    // The menu is used up: "1" again is a plain message.
    EXPECT_EQ(oa_post(oa_text("oMenu01", "1", 90002)).body, "success");
    EXPECT_EQ(count_kind("wx", "oMenu01", "button_press"), 1);
    EXPECT_EQ(count_kind("wx", "oMenu01", "message"), 1);
    // A CLICK on the account's own menu is a button press too.
    EXPECT_EQ(passive_content(oa_post(oa_event("oMenu01", "CLICK", "menu:pricing", 1732350999)).body), kPricingText);
}

TEST_P(WechatE2E, PassiveReplyTooLate_GoesThroughCustomerService) {
    // The database is held up past the 4 s WeChat leaves us: an exclusive SQLite transaction, or
    // a MariaDB table lock on the deduplication table every callback writes first.
    start(R"(, "busy_timeout_ms": 15000)");
    ASSERT_EQ(oa_post(oa_event("oWarm01", "subscribe")).status, 200);
    std::function<void()> release;
    if (GetParam() == Backend::kMysql) {
        auto session = std::make_shared<testing::MysqlTestDatabase::Session>(mysql_->session());
        session->execute("LOCK TABLES processed_inbound WRITE, leads WRITE");
        release = [session] { session->execute("UNLOCK TABLES"); };
    } else {
        sqlite3* locker = nullptr;
        ASSERT_EQ(sqlite3_open((dir_.path() / "e2e.db").c_str(), &locker), SQLITE_OK);
        ASSERT_EQ(sqlite3_exec(locker, "BEGIN EXCLUSIVE", nullptr, nullptr, nullptr), SQLITE_OK);
        release = [locker] {
            sqlite3_exec(locker, "ROLLBACK", nullptr, nullptr, nullptr);
            sqlite3_close(locker);
        };
    }
    std::thread unlock([&] {
        std::this_thread::sleep_for(4500ms);
        release();
    });
    const auto sig = wx::sha1_signature({kOaToken, "1732350001", "4242"});
    const auto r = http("POST", "/webhooks/wx?" + query_of({{"signature", sig}, {"timestamp", "1732350001"},
                                                             {"nonce", "4242"}}),
                        oa_event("oSlow01", "subscribe"), "", 20s);
    unlock.join();
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, "success");
    ASSERT_TRUE(wait_calls("/cgi-bin/message/custom/send", 1)) << service_->logs();
    const auto body = json::parse(calls("/cgi-bin/message/custom/send").front().body);
    EXPECT_EQ(body["touser"], "oSlow01");
    EXPECT_NE(body["text"]["content"].get<std::string>().find("欢迎关注"), std::string::npos);
}

TEST_P(WechatE2E, WecomContact_BecomesALeadOwnedByTheEmployee_AndIsWelcomed) {
    start();
    const std::string external = "wmE2EAAAme1XQRC-NI-q0_ZM9ukoAA";
    const auto r = wecom_post(wecom_contact("add_external_contact", external, "zhangsan", "src_wecom", "WC-0001",
                                            1732350000));
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, "");
    auto lead = lead_of("wecom", external);
    ASSERT_TRUE(lead) << service_->logs();
    EXPECT_EQ(lead->owner, "zhangsan");
    EXPECT_EQ(lead->source_campaign, "wecom");
    ASSERT_TRUE(wait_calls("/cgi-bin/externalcontact/send_welcome_msg", 1)) << service_->logs();
    const auto call = calls("/cgi-bin/externalcontact/send_welcome_msg").front();
    EXPECT_EQ(access_token_of(call), "WCTOKEN-1");
    const auto body = json::parse(call.body);
    EXPECT_EQ(body["welcome_code"], "WC-0001");
    EXPECT_NE(body["text"]["content"].get<std::string>().find("1. 价格方案"), std::string::npos);
    const auto token = calls("/cgi-bin/gettoken");
    ASSERT_EQ(token.size(), 1u);
    EXPECT_NE(token[0].target.find("corpid=" + std::string(kCorpId)), std::string::npos);
    // The customer removes the employee: unreachable on this channel.
    EXPECT_EQ(wecom_post(wecom_contact("del_follow_user", external, "zhangsan", "", "", 1732350100)).status, 200);
    EXPECT_TRUE(lead_of("wecom", external)->unreachable);
    // The same callback again (WeCom retries): processed once.
    EXPECT_EQ(wecom_post(wecom_contact("del_follow_user", external, "zhangsan", "", "", 1732350100)).status, 200);
    EXPECT_EQ(count_kind("wecom", external, "unfollow"), 1);
}

TEST_P(WechatE2E, WecomRepClaim_AssignsTheLead_AndAnswersByAppMessage) {
    start();
    ASSERT_EQ(oa_post(oa_text("oClaim01", "我想预约演示", 91001)).status, 200);
    const auto lead = lead_of("wx", "oClaim01");
    ASSERT_TRUE(lead);
    const auto id = std::to_string(lead->id.value);
    EXPECT_EQ(wecom_post(wecom_app_text("lisi", "认领 " + id, 5001)).status, 200);
    EXPECT_EQ(lead_of("wx", "oClaim01")->owner, "lisi");
    EXPECT_FALSE(lead_of("wecom", "lisi"));  // employees are not leads
    ASSERT_TRUE(wait_calls("/cgi-bin/message/send", 1)) << service_->logs();
    const auto body = json::parse(calls("/cgi-bin/message/send").front().body);
    EXPECT_EQ(body["touser"], "lisi");
    EXPECT_EQ(body["agentid"], 218);
    EXPECT_EQ(body["msgtype"], "text");
    EXPECT_NE(body["text"]["content"].get<std::string>().find(id), std::string::npos);
    bool audited = false;
    for (const auto& e : events_of("wx", "oClaim01")) {
        if (e.kind == "owner_changed" && e.actor == "rep:lisi") audited = true;
    }
    EXPECT_TRUE(audited);
    // Anything else gets the help text.
    EXPECT_EQ(wecom_post(wecom_app_text("lisi", "怎么用？", 5002)).status, 200);
    ASSERT_TRUE(wait_calls("/cgi-bin/message/send", 2));
    EXPECT_NE(json::parse(calls("/cgi-bin/message/send").back().body)["text"]["content"].get<std::string>().find("认领"),
              std::string::npos);
}

TEST_P(WechatE2E, WecomCustomerGroup_RecordsMembership) {
    start();
    const std::string a = "wmE2EAAAme1XQRC-NI-q0_ZM9ukoA1";
    const std::string b = "wmE2EAAAme1XQRC-NI-q0_ZM9ukoB2";
    EXPECT_EQ(wecom_post(wecom_chat("create", "", {}, 1732350000)).status, 200);
    EXPECT_EQ(wecom_post(wecom_chat("update", "add_member", {a, b, "zhangsan"}, 1732350010)).status, 200);
    EXPECT_EQ(wecom_post(wecom_chat("update", "del_member", {b}, 1732350020)).status, 200);
    auto la = lead_of("wecom", a);
    auto lb = lead_of("wecom", b);
    ASSERT_TRUE(la && lb) << service_->logs();
    EXPECT_FALSE(lead_of("wecom", "zhangsan"));
    auto ma = db().list_memberships(la->id);
    ASSERT_EQ(ma.size(), 1u);
    EXPECT_EQ(ma[0].chat_id, "wrOgQhDgAAMYQiS5ol9G7gK9JVAAAA");
    EXPECT_TRUE(ma[0].member);
    auto mb = db().list_memberships(lb->id);
    ASSERT_EQ(mb.size(), 1u);
    EXPECT_FALSE(mb[0].member);
    EXPECT_EQ(wecom_post(wecom_chat("dismiss", "", {}, 1732350030)).status, 200);
}

TEST_P(WechatE2E, QrCodeApi_CreatesCodesForScenes) {
    start();
    auto r = api("POST", "/api/v1/channels/wx/qrcodes", kMarketer,
                 R"({"scene": "src_spring", "expire_seconds": 604800})");
    ASSERT_EQ(r.status, 201) << r.body;
    auto j = json::parse(r.body);
    EXPECT_EQ(j["scene"], "src_spring");
    EXPECT_EQ(j["permanent"], false);
    EXPECT_EQ(j["url"],
              "https://mp.weixin.qq.com/cgi-bin/showqrcode?ticket="
              "gQH47joAAAAAAAAAASxodHRwOi8vd2VpeGluLnFxLmNvbS9xL2taZ2Z3TVRtNzJXV1Brb3ZhYmJJAA%3D%3D");
    EXPECT_TRUE(j["expires_at"].is_string());
    const auto create = calls("/cgi-bin/qrcode/create");
    ASSERT_EQ(create.size(), 1u);
    EXPECT_EQ(json::parse(create[0].body),
              json::parse(R"({"expire_seconds": 604800, "action_name": "QR_STR_SCENE",
                              "action_info": {"scene": {"scene_str": "src_spring"}}})"));
    EXPECT_EQ(access_token_of(create[0]), "OATOKEN-1");

    r = api("POST", "/api/v1/channels/wx/qrcodes", kAdmin, R"({"scene": "rep_alice", "permanent": true})");
    ASSERT_EQ(r.status, 201) << r.body;
    EXPECT_TRUE(json::parse(r.body)["expires_at"].is_null());
    EXPECT_EQ(json::parse(calls("/cgi-bin/qrcode/create").back().body)["action_name"], "QR_LIMIT_STR_SCENE");

    // Follows through it are attributed.
    ASSERT_EQ(oa_post(oa_event("oQr01", "subscribe", "qrscene_src_spring")).status, 200);
    EXPECT_EQ(lead_of("wx", "oQr01")->source_campaign, "spring");

    EXPECT_EQ(api("POST", "/api/v1/channels/wx/qrcodes", "", R"({"scene": "src_x"})").status, 401);
    EXPECT_EQ(api("POST", "/api/v1/channels/wx/qrcodes", kSales, R"({"scene": "src_x"})").status, 403);
    EXPECT_EQ(api("POST", "/api/v1/channels/nope/qrcodes", kAdmin, R"({"scene": "src_x"})").status, 404);
    EXPECT_EQ(api("POST", "/api/v1/channels/wecom/qrcodes", kAdmin, R"({"scene": "src_x"})").status, 409);
    for (const auto& [body, field] : std::vector<std::pair<std::string, std::string>>{
             {R"({})", "scene"},
             {R"({"scene": "spring"})", "scene"},
             {R"({"scene": "src_"})", "scene"},
             {R"({"scene": "src_有空格 x"})", "scene"},
             {R"({"scene": "ref_abc"})", "scene"},
             {R"({"scene": ")" + std::string("src_") + std::string(70, 'a') + R"("})", "scene"},
             {R"({"scene": "src_x", "expire_seconds": 10})", "expire_seconds"},
             {R"({"scene": "src_x", "expire_seconds": 2592001})", "expire_seconds"},
             {R"({"scene": "src_x", "permanent": true, "expire_seconds": 600})", "expire_seconds"},
             {R"({"scene": "src_x", "permanent": "yes"})", "permanent"},
             {R"({"scene": "src_x", "color": "red"})", "color"},
             {R"([1])", ""}}) {
        const auto bad = api("POST", "/api/v1/channels/wx/qrcodes", kAdmin, body);
        EXPECT_EQ(bad.status, 400) << body;
        const auto err = json::parse(bad.body, nullptr, false);
        ASSERT_TRUE(err.is_object() && err.contains("error")) << bad.body;
        EXPECT_EQ(err["error"].value("field", std::string{}), field) << body << " " << bad.body;
    }
    EXPECT_EQ(calls("/cgi-bin/qrcode/create").size(), 2u);
}

TEST_P(WechatE2E, NeverLogsSecretsTokensOrMessageText) {
    start();
    ASSERT_EQ(oa_post(oa_text("oLog01", "我的手机号是 13812345678", 99001)).status, 200);
    ASSERT_EQ(oa_post(oa_event("oLog04", "subscribe", "qrscene_src_expo")).status, 200);
    ASSERT_EQ(safe_post(oa_event("oLog02", "subscribe")).status, 200);
    ASSERT_EQ(wecom_post(wecom_contact("add_external_contact", "wmE2EAAAme1XQRC-NI-q0_ZM9uLOG1", "zhangsan", "",
                                       "WC-LOG", 1732350000))
                  .status,
              200);
    EXPECT_EQ(safe_post(oa_event("oLog03", "subscribe"), kSafeAppId, true).status, 401);
    ASSERT_TRUE(wait_calls("/cgi-bin/message/custom/send", 1));
    ASSERT_TRUE(wait_calls("/cgi-bin/externalcontact/send_welcome_msg", 1));
    std::this_thread::sleep_for(200ms);
    service_->signal(SIGTERM);
    EXPECT_EQ(service_->wait(10s), 0) << service_->logs();  // a clean exit (also under sanitizers)
    const auto logs = service_->logs();
    for (const char* secret : {kOaSecret, kOaToken, kAesKey, kWecomSecret, kWecomAesKey, "OATOKEN-1", "WCTOKEN-1",
                               "13812345678", "WC-LOG"}) {
        EXPECT_EQ(logs.find(secret), std::string::npos) << secret;
    }
    EXPECT_NE(logs.find("rejected: 401"), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(Backends, WechatE2E, ::testing::Values(Backend::kSqlite, Backend::kMysql),
                         testing::backend_name);

}  // namespace
}  // namespace leadhatch
