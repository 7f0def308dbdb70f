// The WeCom adapter: URL verification and encrypted callbacks (Tencent's published sample values
// as fixed vectors, the documented event shapes as fixtures), rejections, app and welcome messages.
#include "adapters/chat/wechat/wecom_adapter.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "tests/adapters/wechat_test_support.hpp"

namespace leadhatch::adapters::wechat {
namespace {

using nlohmann::json;
using test::fixture;
using test::query;
using test::Request;
using Kind = chat::SendOutcome::Kind;

// Tencent's WeCom sample (weworkapi Sample.cpp / callback Sample.php; see wechat_crypto_test.cpp).
constexpr std::string_view kToken = "QDG6eK";
constexpr std::string_view kCorpId = "wx5823bf96d3bd56c7";
constexpr std::string_view kAesKey = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C";
constexpr std::string_view kVerifySignature = "5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3";
constexpr std::string_view kVerifyTimestamp = "1409659589";
constexpr std::string_view kVerifyNonce = "263014780";
constexpr std::string_view kVerifyEchoStr =
    "P9nAzCzyDtyTWESHep1vC5X9xho/qYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp+4RPcs8TgAE7OaBO+FZXvnaqQ==";
constexpr std::string_view kVerifyEchoPlain = "1616140317555161061";
constexpr std::string_view kMsgSignature = "477715d11cdb4164915debcba66cb864d751f3e6";
constexpr std::string_view kMsgTimestamp = "1409659813";
constexpr std::string_view kMsgNonce = "1372623149";
constexpr std::string_view kMsgEncrypt =
    "RypEvHKD8QQKFhvQ6QleEB4J58tiPdvo+rtK1I9qca6aM/wvqnLSV5zEPeusUiX5L5X/0lWfrf0QADHHhGd3QczcdCUpj911L3vg3W/"
    "sYYvuJTs3TUUkSUXxaccAS0qhxchrRYt66wiSpGLYL42aM6A8dTT+6k4aSknmPj48kzJs8qLjvd4Xgpue06DOdnLxAUHzM6+kDZ+"
    "HMZfJYuR+LtwGc2hgf5gsijff0ekUNXZiqATP7PF5mZxZ3Izoun1s4zG4LUMnvw2r+KqCKIw+3IQH03v+BCA9nMELNqbSf6tiWSrXJB3L"
    "AVGUcallcrw8V2t9EL4EhzJWrQUax5wLVMNS0+rUPA3k22Ncx4XXZS9o0MBH27Bo6BpNelZpS+/uh9KsNlY6bHCmJU9p8g7m3fVKn28H3K"
    "DYA5Pl/T8Z1ptDAVe0lXdQ2YoyyH2uyPIGHBZZIs2pDBS8R07+qN+E7Q==";

const core::Timestamp kNow = core::Timestamp{std::chrono::seconds{1409659900}};

WecomSettings settings() {
    WecomSettings s;
    s.channel_id = "wecom";
    s.corp_id = std::string(kCorpId);
    s.agent_id = "218";
    s.secret = "corp-secret";
    s.token = std::string(kToken);
    s.encoding_aes_key = std::string(kAesKey);
    s.api_base = "http://127.0.0.1:9";
    return s;
}

Request post_encrypted(const std::string& encrypt, std::string_view signature) {
    Request r;
    r.query = query({{"msg_signature", std::string(signature)},
                     {"timestamp", std::string(kMsgTimestamp)},
                     {"nonce", std::string(kMsgNonce)}});
    r.body = test::envelope(kCorpId, encrypt);
    return r;
}

// `inner` encrypted for `corp_id` and signed with the sample token.
Request post(const std::string& inner, std::string_view corp_id = kCorpId) {
    const auto crypto = test::make_crypto(kToken, kAesKey, corp_id);
    const std::string encrypt = crypto.encrypt(inner);
    return post_encrypted(encrypt, crypto.sign(kMsgTimestamp, kMsgNonce, encrypt));
}

Request signed_ciphertext(const std::string& encrypt) {
    return post_encrypted(encrypt, test::make_crypto(kToken, kAesKey, kCorpId).sign(kMsgTimestamp, kMsgNonce, encrypt));
}

// --- URL verification -----------------------------------------------------------------------------

TEST(WecomVerify, AnswersTheDecryptedEchostr_OfThePublishedSample) {
    const WecomAdapter a(settings());
    Request r;
    r.method = "GET";
    r.query = query({{"msg_signature", std::string(kVerifySignature)},
                     {"timestamp", std::string(kVerifyTimestamp)},
                     {"nonce", std::string(kVerifyNonce)},
                     {"echostr", std::string(kVerifyEchoStr)}});
    const auto p = a.parse_webhook(r.view(), kNow);
    EXPECT_EQ(p.status, 200);
    EXPECT_EQ(p.body, kVerifyEchoPlain);
    // An echostr whose '+' and '/' arrive unencoded still decodes ('+' is not a space here).
    r.query = "msg_signature=" + std::string(kVerifySignature) + "&timestamp=" + std::string(kVerifyTimestamp) +
              "&nonce=" + std::string(kVerifyNonce) + "&echostr=" + std::string(kVerifyEchoStr);
    EXPECT_EQ(a.parse_webhook(r.view(), kNow).body, kVerifyEchoPlain);
}

TEST(WecomVerify, Rejects_WhenTamperedOrIncomplete) {
    const WecomAdapter a(settings());
    std::string flipped(kVerifySignature);
    flipped[3] = flipped[3] == '4' ? '5' : '4';
    Request r;
    r.method = "GET";
    r.query = query({{"msg_signature", flipped},
                     {"timestamp", std::string(kVerifyTimestamp)},
                     {"nonce", std::string(kVerifyNonce)},
                     {"echostr", std::string(kVerifyEchoStr)}});
    EXPECT_EQ(a.parse_webhook(r.view(), kNow).status, 401);
    r.query = query({{"msg_signature", std::string(kVerifySignature)},
                     {"timestamp", std::string(kVerifyTimestamp)},
                     {"nonce", std::string(kVerifyNonce)}});
    EXPECT_EQ(a.parse_webhook(r.view(), kNow).status, 401);
    // Signed for our token but encrypted for another corp.
    auto other = settings();
    other.corp_id = "wx0000000000000000";
    const auto p = WecomAdapter(other).parse_webhook(
        Request{"GET",
                query({{"msg_signature", std::string(kVerifySignature)},
                       {"timestamp", std::string(kVerifyTimestamp)},
                       {"nonce", std::string(kVerifyNonce)},
                       {"echostr", std::string(kVerifyEchoStr)}}),
                "",
                {}}
            .view(),
        kNow);
    EXPECT_EQ(p.status, 401);
}

// --- Callbacks --------------------------------------------------------------------------------------

TEST(WecomCallback, ParsesThePublishedMessage_AsAnEmployeesAppMessage) {
    const WecomAdapter a(settings());
    const auto p = a.parse_webhook(post_encrypted(std::string(kMsgEncrypt), kMsgSignature).view(), kNow);
    ASSERT_EQ(p.status, 0) << p.body;
    ASSERT_EQ(p.delivery.events.size(), 1U);
    const auto& e = p.delivery.events[0];
    EXPECT_TRUE(e.staff);
    EXPECT_EQ(e.kind, core::InboundKind::kMessage);
    EXPECT_EQ(e.owner_hint, "mycreate");
    EXPECT_EQ(e.chat.external_id, "mycreate");
    EXPECT_EQ(e.text, "hello");
    EXPECT_EQ(p.delivery.dedupe_key, "msg:4561255354251345929");
    EXPECT_EQ(e.occurred_at, core::Timestamp{std::chrono::seconds{1409659813}});
}

TEST(WecomCallback, AddExternalContact_IsAFollowOwnedByTheEmployee) {
    const auto p = WecomAdapter(settings()).parse_webhook(post(fixture("wecom_add_external_contact")).view(), kNow);
    ASSERT_EQ(p.status, 0) << p.body;
    ASSERT_EQ(p.delivery.events.size(), 1U);
    const auto& e = p.delivery.events[0];
    EXPECT_EQ(e.kind, core::InboundKind::kFollow);
    EXPECT_FALSE(e.staff);
    EXPECT_EQ(e.user.external_id, "woAJ2GCAAAXtWyujaWJHDDGi0mAAAA");
    EXPECT_EQ(e.owner_hint, "zhangsan");
    EXPECT_EQ(e.scene, "teststate");
    EXPECT_EQ(e.reply_token, "WELCOMECODE");
    EXPECT_EQ(e.chat.external_id, "woAJ2GCAAAXtWyujaWJHDDGi0mAAAA");
    EXPECT_EQ(p.delivery.dedupe_key, "ext:add_external_contact:woAJ2GCAAAXtWyujaWJHDDGi0mAAAA:zhangsan:1403610513");
    // Without a welcome code there is nothing to answer with.
    std::string no_code = fixture("wecom_add_external_contact");
    no_code.erase(no_code.find("<WelcomeCode>"), no_code.find("</WelcomeCode>") + 14 - no_code.find("<WelcomeCode>"));
    const auto q = WecomAdapter(settings()).parse_webhook(post(no_code).view(), kNow);
    ASSERT_EQ(q.delivery.events.size(), 1U);
    EXPECT_TRUE(q.delivery.events[0].chat.external_id.empty());
    EXPECT_TRUE(q.delivery.events[0].reply_token.empty());
}

TEST(WecomCallback, DeletedContacts_AreUnfollows) {
    const WecomAdapter a(settings());
    for (const char* f : {"wecom_del_external_contact", "wecom_del_follow_user"}) {
        const auto p = a.parse_webhook(post(fixture(f)).view(), kNow);
        ASSERT_EQ(p.status, 0) << f;
        ASSERT_EQ(p.delivery.events.size(), 1U) << f;
        EXPECT_EQ(p.delivery.events[0].kind, core::InboundKind::kUnfollow) << f;
        EXPECT_EQ(p.delivery.events[0].owner_hint, "zhangsan") << f;
    }
}

TEST(WecomCallback, GroupChanges_BecomeMembershipOfExternalMembers) {
    const WecomAdapter a(settings());
    auto added = a.parse_webhook(post(fixture("wecom_chat_add_member")).view(), kNow);
    ASSERT_EQ(added.status, 0);
    // Two customers joined; the employee in the list is not a lead.
    ASSERT_EQ(added.delivery.events.size(), 2U);
    for (const auto& e : added.delivery.events) {
        EXPECT_EQ(e.kind, core::InboundKind::kMemberJoined);
        EXPECT_EQ(e.chat.external_id, "CHAT_ID");
        EXPECT_EQ(e.chat.type, core::ChatType::kGroup);
    }
    EXPECT_EQ(added.delivery.events[0].user.external_id, "wmAJ2GCAAAme1XQRC-NI-q0_ZM9ukoAA");
    EXPECT_EQ(added.delivery.events[1].user.external_id, "wmAJ2GCAAAme1XQRC-NI-q0_ZM9ukoBB");

    auto left = a.parse_webhook(post(fixture("wecom_chat_del_member")).view(), kNow);
    ASSERT_EQ(left.delivery.events.size(), 1U);
    EXPECT_EQ(left.delivery.events[0].kind, core::InboundKind::kMemberLeft);
    EXPECT_NE(left.delivery.dedupe_key, added.delivery.dedupe_key);

    // No member list: the change is recorded on the group only.
    auto bare = a.parse_webhook(post(fixture("wecom_chat_update_no_members")).view(), kNow);
    ASSERT_EQ(bare.delivery.events.size(), 1U);
    EXPECT_TRUE(bare.delivery.events[0].user.external_id.empty());
    EXPECT_EQ(bare.delivery.events[0].chat.external_id, "CHAT_ID");

    // The older comma-separated form of the list.
    std::string commas = fixture("wecom_chat_add_member");
    const auto from = commas.find("<MemChangeList>");
    const auto to = commas.find("</MemChangeList>");
    commas.replace(from, to - from,
                   "<MemChangeList><![CDATA[wmAJ2GCAAAme1XQRC-NI-q0_ZM9ukoAA,zhangsan,wmAJ2GCAAAme1XQRC-NI-q0_ZM9ukoCC]]>");
    EXPECT_EQ(a.parse_webhook(post(commas).view(), kNow).delivery.events.size(), 2U);

    auto created = a.parse_webhook(post(fixture("wecom_chat_create")).view(), kNow);
    ASSERT_EQ(created.delivery.events.size(), 1U);
    EXPECT_EQ(created.delivery.events[0].kind, core::InboundKind::kBotAdded);
    auto dismissed = a.parse_webhook(post(fixture("wecom_chat_dismiss")).view(), kNow);
    ASSERT_EQ(dismissed.delivery.events.size(), 1U);
    EXPECT_EQ(dismissed.delivery.events[0].kind, core::InboundKind::kBotRemoved);
}

TEST(WecomCallback, EmployeeText_IsStaff) {
    const auto p = WecomAdapter(settings()).parse_webhook(post(fixture("wecom_app_text")).view(), kNow);
    ASSERT_EQ(p.delivery.events.size(), 1U);
    EXPECT_TRUE(p.delivery.events[0].staff);
    EXPECT_EQ(p.delivery.events[0].owner_hint, "fromUser");
    EXPECT_EQ(p.delivery.events[0].text, "this is a test");
}

TEST(WecomCallback, UnknownEvents_AreAcknowledgedOnly) {
    const std::string enter =
        "<xml><ToUserName><![CDATA[toUser]]></ToUserName><FromUserName><![CDATA[FromUser]]></FromUserName>"
        "<CreateTime>1408091189</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[enter_agent]]></Event>"
        "<EventKey><![CDATA[]]></EventKey><AgentID>1</AgentID></xml>";
    const auto p = WecomAdapter(settings()).parse_webhook(post(enter).view(), kNow);
    EXPECT_EQ(p.status, 0);
    EXPECT_TRUE(p.delivery.events.empty());
}

// --- Rejections -------------------------------------------------------------------------------------

TEST(WecomReject, TamperedSignature_Is401) {
    std::string flipped(kMsgSignature);
    flipped[0] = flipped[0] == '4' ? '5' : '4';
    EXPECT_EQ(WecomAdapter(settings()).parse_webhook(post_encrypted(std::string(kMsgEncrypt), flipped).view(), kNow).status,
              401);
}

TEST(WecomReject, WrongCorpId_Is401) {
    const auto p = WecomAdapter(settings()).parse_webhook(post(fixture("wecom_app_text"), "wx0000000000000000").view(), kNow);
    EXPECT_EQ(p.status, 401);
    EXPECT_EQ(p.reason, "wrong_receive_id");
}

TEST(WecomReject, BadPaddingAndTruncation_Are400) {
    const WecomAdapter a(settings());
    EXPECT_EQ(a.parse_webhook(signed_ciphertext(test::badly_padded(kAesKey, fixture("wecom_app_text"), kCorpId)).view(),
                              kNow)
                  .status,
              400);
    const std::string raw = base64_decode(kMsgEncrypt).value();
    EXPECT_EQ(a.parse_webhook(signed_ciphertext(base64_encode(raw.substr(0, raw.size() - 7))).view(), kNow).status, 400);
    EXPECT_EQ(a.parse_webhook(signed_ciphertext(base64_encode(raw.substr(0, 32))).view(), kNow).status, 400);
}

TEST(WecomReject, MalformedXmlDoctypeAndMissingParameters) {
    const WecomAdapter a(settings());
    EXPECT_EQ(a.parse_webhook(post("<xml><MsgType>text</MsgType>").view(), kNow).status, 400);
    EXPECT_EQ(a.parse_webhook(post("<!DOCTYPE xml><xml><MsgType>text</MsgType></xml>").view(), kNow).status, 400);
    Request r = post(fixture("wecom_app_text"));
    r.body = "<!DOCTYPE x [<!ENTITY e SYSTEM \"file:///etc/passwd\">]><xml><Encrypt>&e;</Encrypt></xml>";
    EXPECT_EQ(a.parse_webhook(r.view(), kNow).status, 400);
    r = post(fixture("wecom_app_text"));
    r.query = query({{"timestamp", std::string(kMsgTimestamp)}, {"nonce", std::string(kMsgNonce)}});
    EXPECT_EQ(a.parse_webhook(r.view(), kNow).status, 401);
    r.query = "";
    EXPECT_EQ(a.parse_webhook(r.view(), kNow).status, 401);
}

// --- Sending ----------------------------------------------------------------------------------------

TEST(WecomSend, AppMessageToAnEmployee) {
    const WecomAdapter a(settings());
    core::OutboundMessage m;
    m.chat_id = "zhangsan";
    m.text = "线索 12 已分配给你。";
    const auto req = a.build_send(m, "TOKEN");
    EXPECT_EQ(req.url, "http://127.0.0.1:9/cgi-bin/message/send?access_token=TOKEN");
    EXPECT_EQ(json::parse(req.body),
              (json{{"touser", "zhangsan"}, {"msgtype", "text"}, {"agentid", 218}, {"text", {{"content", m.text}}}}));
    net::ApiResponse r;
    r.status = 200;
    r.body = R"({"errcode":0,"errmsg":"ok","invaliduser":"","msgid":"xx"})";
    EXPECT_EQ(a.interpret_send(m, r).kind, Kind::kSent);
    r.body = R"({"errcode":0,"errmsg":"ok","invaliduser":"zhangsan","msgid":"xx"})";
    EXPECT_EQ(a.interpret_send(m, r).kind, Kind::kUnreachable);
    r.body = R"({"errcode":42001,"errmsg":"access_token expired"})";
    EXPECT_EQ(a.interpret_send(m, r).kind, Kind::kTokenExpired);
}

TEST(WecomSend, WelcomeMessage_WithTheCallbacksCode) {
    const WecomAdapter a(settings());
    core::OutboundMessage m;
    m.chat_id = "woAJ2GCAAAXtWyujaWJHDDGi0mAAAA";
    m.reply_token = "WELCOMECODE";
    m.text = "你好";
    m.buttons = {{core::Button{"价格方案", "menu:pricing", ""}}};
    const auto req = a.build_send(m, "TOKEN");
    EXPECT_EQ(req.url, "http://127.0.0.1:9/cgi-bin/externalcontact/send_welcome_msg?access_token=TOKEN");
    EXPECT_EQ(json::parse(req.body),
              (json{{"welcome_code", "WELCOMECODE"}, {"text", {{"content", "你好\n\n1. 价格方案"}}}}));
    net::ApiResponse r;
    r.status = 200;
    r.body = R"({"errcode":41051,"errmsg":"externaluser has started chatting"})";
    EXPECT_EQ(a.interpret_send(m, r).kind, Kind::kFailed);
}

TEST(WecomToken, AsksGettoken) {
    const WecomAdapter a(settings());
    const auto req = a.build_token_request();
    ASSERT_TRUE(req);
    EXPECT_EQ(req->url, "http://127.0.0.1:9/cgi-bin/gettoken?corpid=wx5823bf96d3bd56c7&corpsecret=corp-secret");
    net::ApiResponse r;
    r.status = 200;
    r.body = R"({"errcode":0,"errmsg":"ok","access_token":"accesstoken000001","expires_in":7200})";
    const auto t = a.parse_token_response(r);
    ASSERT_TRUE(t);
    EXPECT_EQ(t->token, "accesstoken000001");
    r.body = R"({"errcode":40013,"errmsg":"invalid corpid"})";
    EXPECT_FALSE(a.parse_token_response(r));
}

}  // namespace
}  // namespace leadhatch::adapters::wechat
