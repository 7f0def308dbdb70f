// The WeChat Official Account adapter: server verification, plaintext and safe-mode messages
// (Tencent's published sample values as fixed vectors, the documented XML shapes as fixtures),
// rejections, passive replies, customer-service sends and error codes, tokens, QR codes.
#include "adapters/chat/wechat/wechat_oa_adapter.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "adapters/chat/wechat/xml.hpp"
#include "tests/adapters/wechat_test_support.hpp"

namespace leadhatch::adapters::wechat {
namespace {

using nlohmann::json;
using test::fixture;
using test::query;
using test::Request;
using Kind = chat::SendOutcome::Kind;

// Tencent's Official Account safe-mode sample (Python Sample.py, see wechat_crypto_test.cpp).
constexpr std::string_view kToken = "spamtest";
constexpr std::string_view kAppId = "wx2c2769f8efd9abc2";
constexpr std::string_view kAesKey = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";
constexpr std::string_view kTimestamp = "1409735669";
constexpr std::string_view kNonce = "1320562132";
constexpr std::string_view kPlainSignature = "16120ec1b8dbb870f510d87ce6bc2463eae6ca1a";
constexpr std::string_view kMsgSignature = "5d197aaffba7e9b25a30732f161a50dee96bd5fa";
constexpr std::string_view kEncrypt =
    "hyzAe4OzmOMbd6TvGdIOO6uBmdJoD0Fk53REIHvxYtJlE2B655HuD0m8KUePWB3+LrPXo87wzQ1QLvbeUgmBM4x6F8PGHQHFVAFmOD2LdJF9Fr"
    "XpbUAh0B5GIItb52sn896wVsMSHGuPE328HnRGBcrS7C41IzDWyWNlZkyyXwon8T332jisa+h6tEDYsVticbSnyU8dKOIbgU6ux5VTjg3yt+"
    "WGzjlpKn6NPhRjpA912xMezR4kw6KWwMrCVKSVCZciVGCgavjIQ6X8tCOp3yZbGpy0VxpAe+77TszTfRd5RJSVO/HTnifJpXgCSUdUue1v6h0E"
    "IBYYI1BD1DlD+C0CR8e6OewpusjZ4uBl9FyJvnhvQl+q5rv1ixrcpCumEPo5MJSgM9ehVsNPfUM669WuMyVWQLCzpu9GhglF2PE=";
// The sample's body, in compatibility mode (plaintext fields beside <Encrypt>).
std::string sample_body() {
    return "<xml><ToUserName><![CDATA[gh_10f6c3c3ac5a]]></ToUserName><FromUserName><![CDATA["
           "oyORnuP8q7ou2gfYjqLzSIWZf0rs]]></FromUserName><CreateTime>1409735668</CreateTime><MsgType><![CDATA["
           "text]]></MsgType><Content><![CDATA[abcdteT]]></Content><MsgId>6054768590064713728</MsgId><Encrypt><!"
           "[CDATA[" +
           std::string(kEncrypt) + "]]></Encrypt></xml>";
}

const core::Timestamp kNow = core::Timestamp{std::chrono::seconds{1409735700}};

WechatOaSettings settings(bool safe) {
    WechatOaSettings s;
    s.channel_id = "wx";
    s.app_id = std::string(kAppId);
    s.app_secret = "app-secret";
    s.token = std::string(kToken);
    if (safe) s.encoding_aes_key = std::string(kAesKey);
    s.api_base = "http://127.0.0.1:9";
    return s;
}

// A plaintext POST, signed as WeChat signs it.
Request plain_post(std::string body, std::string_view timestamp = kTimestamp, std::string_view nonce = kNonce) {
    Request r;
    r.query = query({{"signature", sha1_signature({std::string(kToken), std::string(timestamp), std::string(nonce)})},
                     {"timestamp", std::string(timestamp)},
                     {"nonce", std::string(nonce)},
                     {"openid", "fromUser"}});
    r.body = std::move(body);
    return r;
}

// A safe-mode POST: `inner` encrypted for `app_id` and signed.
Request safe_post(const std::string& inner, std::string_view app_id = kAppId, std::string_view timestamp = kTimestamp) {
    const auto crypto = test::make_crypto(kToken, kAesKey, app_id);
    const std::string encrypt = crypto.encrypt(inner);
    Request r;
    r.query = query({{"signature", sha1_signature({std::string(kToken), std::string(timestamp), std::string(kNonce)})},
                     {"timestamp", std::string(timestamp)},
                     {"nonce", std::string(kNonce)},
                     {"openid", "fromUser"},
                     {"encrypt_type", "aes"},
                     {"msg_signature", crypto.sign(timestamp, kNonce, encrypt)}});
    r.body = test::envelope("gh_10f6c3c3ac5a", encrypt);
    return r;
}

Request signed_envelope(const std::string& encrypt) {
    const auto crypto = test::make_crypto(kToken, kAesKey, kAppId);
    Request r;
    r.query = query({{"timestamp", std::string(kTimestamp)},
                     {"nonce", std::string(kNonce)},
                     {"encrypt_type", "aes"},
                     {"msg_signature", crypto.sign(kTimestamp, kNonce, encrypt)}});
    r.body = test::envelope("gh_10f6c3c3ac5a", encrypt);
    return r;
}

// --- Server verification ------------------------------------------------------------------------

TEST(WechatOaVerify, EchoesEchostr_WhenThePublishedSignatureMatches) {
    const WechatOaAdapter a(settings(false));
    Request r;
    r.method = "GET";
    r.query = query({{"signature", std::string(kPlainSignature)},
                     {"timestamp", std::string(kTimestamp)},
                     {"nonce", std::string(kNonce)},
                     {"echostr", "4917512345678901234"}});
    const auto p = a.parse_webhook(r.view(), kNow);
    EXPECT_EQ(p.status, 200);
    EXPECT_EQ(p.body, "4917512345678901234");
    // Safe mode verifies the server the same (plaintext) way.
    EXPECT_EQ(WechatOaAdapter(settings(true)).parse_webhook(r.view(), kNow).body, "4917512345678901234");
}

TEST(WechatOaVerify, Rejects_WhenSignatureIsWrongOrParametersMissing) {
    const WechatOaAdapter a(settings(false));
    std::string flipped(kPlainSignature);
    flipped[0] = flipped[0] == '1' ? '2' : '1';
    const std::vector<std::vector<std::pair<std::string, std::string>>> cases{
        {{"signature", flipped}, {"timestamp", std::string(kTimestamp)}, {"nonce", std::string(kNonce)}, {"echostr", "x"}},
        {{"signature", std::string(kPlainSignature)}, {"timestamp", "1409735670"}, {"nonce", std::string(kNonce)}, {"echostr", "x"}},
        {{"timestamp", std::string(kTimestamp)}, {"nonce", std::string(kNonce)}, {"echostr", "x"}},
        {{"signature", std::string(kPlainSignature)}, {"nonce", std::string(kNonce)}, {"echostr", "x"}},
        {{"signature", std::string(kPlainSignature)}, {"timestamp", std::string(kTimestamp)}, {"echostr", "x"}},
        {{"signature", std::string(kPlainSignature)}, {"timestamp", std::string(kTimestamp)}, {"nonce", std::string(kNonce)}},
    };
    for (std::size_t i = 0; i < cases.size(); ++i) {
        Request r;
        r.method = "GET";
        r.query = query(cases[i]);
        const auto p = a.parse_webhook(r.view(), kNow);
        EXPECT_EQ(p.status, 401) << i;
        EXPECT_NE(p.body, "x") << i;
    }
}

// --- Safe mode with Tencent's published message -------------------------------------------------

TEST(WechatOaSafeMode, ParsesThePublishedSample) {
    const WechatOaAdapter a(settings(true));
    Request r;
    r.query = query({{"signature", std::string(kPlainSignature)},
                     {"timestamp", std::string(kTimestamp)},
                     {"nonce", std::string(kNonce)},
                     {"openid", "oyORnuP8q7ou2gfYjqLzSIWZf0rs"},
                     {"encrypt_type", "aes"},
                     {"msg_signature", std::string(kMsgSignature)}});
    r.body = sample_body();
    const auto p = a.parse_webhook(r.view(), kNow);
    ASSERT_EQ(p.status, 0) << p.body;
    ASSERT_EQ(p.delivery.events.size(), 1U);
    const auto& e = p.delivery.events[0];
    EXPECT_EQ(p.delivery.channel_id, "wx");
    EXPECT_EQ(p.delivery.dedupe_key, "6054768590064713728");
    EXPECT_EQ(e.kind, core::InboundKind::kMessage);
    EXPECT_EQ(e.text, "abcdteT");
    EXPECT_EQ(e.user.external_id, "oyORnuP8q7ou2gfYjqLzSIWZf0rs");
    EXPECT_EQ(e.chat.external_id, "oyORnuP8q7ou2gfYjqLzSIWZf0rs");
    EXPECT_EQ(e.chat.type, core::ChatType::kPrivate);
    EXPECT_EQ(e.occurred_at, core::Timestamp{std::chrono::seconds{1409735668}});
}

TEST(WechatOaSafeMode, UsesTheCiphertextNotThePlaintextCopy) {
    // Compatibility mode carries both; a forged plaintext beside a genuine ciphertext is ignored.
    const WechatOaAdapter a(settings(true));
    Request r;
    r.query = query({{"timestamp", std::string(kTimestamp)},
                     {"nonce", std::string(kNonce)},
                     {"encrypt_type", "aes"},
                     {"msg_signature", std::string(kMsgSignature)}});
    std::string body = sample_body();
    body.replace(body.find("abcdteT"), 7, "FORGED!");
    r.body = body;
    const auto p = a.parse_webhook(r.view(), kNow);
    ASSERT_EQ(p.status, 0) << p.body;
    EXPECT_EQ(p.delivery.events.at(0).text, "abcdteT");
}

// --- Every message and event kind, plaintext and safe mode ---------------------------------------

struct KindCase {
    const char* fixture;
    bool kept;
    core::InboundKind kind;
    std::string user;
    std::string text;
    std::string media;
    std::string scene;
    std::string button;
    std::string dedupe;
};

class WechatOaKinds : public ::testing::TestWithParam<KindCase> {};

void check(const KindCase& c, const chat::WebhookParse& p) {
    ASSERT_EQ(p.status, 0) << c.fixture << ": " << p.body;
    EXPECT_EQ(p.delivery.dedupe_key, c.dedupe) << c.fixture;
    if (!c.kept) {
        EXPECT_TRUE(p.delivery.events.empty()) << c.fixture;
        return;
    }
    ASSERT_EQ(p.delivery.events.size(), 1U) << c.fixture;
    const auto& e = p.delivery.events[0];
    EXPECT_EQ(e.kind, c.kind) << c.fixture;
    EXPECT_EQ(e.user.external_id, c.user) << c.fixture;
    EXPECT_EQ(e.chat.external_id, c.user) << c.fixture;
    EXPECT_EQ(e.text, c.text) << c.fixture;
    EXPECT_EQ(e.media_kind, c.media) << c.fixture;
    EXPECT_EQ(e.scene, c.scene) << c.fixture;
    EXPECT_EQ(e.button_data, c.button) << c.fixture;
    EXPECT_NE(e.occurred_at, core::Timestamp{}) << c.fixture;
}

TEST_P(WechatOaKinds, ParsesPlaintext) {
    const auto& c = GetParam();
    check(c, WechatOaAdapter(settings(false)).parse_webhook(plain_post(fixture(c.fixture)).view(), kNow));
}

TEST_P(WechatOaKinds, ParsesSafeMode) {
    const auto& c = GetParam();
    check(c, WechatOaAdapter(settings(true)).parse_webhook(safe_post(fixture(c.fixture)).view(), kNow));
}

using K = core::InboundKind;
INSTANTIATE_TEST_SUITE_P(
    Fixtures, WechatOaKinds,
    ::testing::Values(
        KindCase{"oa_text", true, K::kMessage, "fromUser", "this is a test", "", "", "", "1234567890123456"},
        KindCase{"oa_image", true, K::kMessage, "fromUser", "", "photo", "", "", "1234567890123456"},
        KindCase{"oa_voice", true, K::kMessage, "fromUser", "腾讯微信团队", "voice", "", "", "1234567890123456"},
        KindCase{"oa_video", true, K::kMessage, "fromUser", "", "video", "", "", "1234567890123456"},
        KindCase{"oa_shortvideo", true, K::kMessage, "fromUser", "", "video", "", "", "1234567890123456"},
        KindCase{"oa_location", true, K::kMessage, "fromUser", "位置信息", "location", "", "", "1234567890123456"},
        KindCase{"oa_link", true, K::kMessage, "fromUser", "公众平台官网链接\nurl", "link", "", "", "1234567890123456"},
        KindCase{"oa_subscribe", true, K::kFollow, "FromUser", "", "", "", "", "FromUser:123456789:subscribe"},
        KindCase{"oa_subscribe_qrscene", true, K::kFollow, "FromUser", "", "", "123123", "",
                 "FromUser:123456789:subscribe"},
        KindCase{"oa_unsubscribe", true, K::kUnfollow, "FromUser", "", "", "", "", "FromUser:123456789:unsubscribe"},
        KindCase{"oa_scan", true, K::kFollow, "FromUser", "", "", "SCENE_VALUE", "",
                 "FromUser:123456789:SCAN:SCENE_VALUE"},
        KindCase{"oa_click", true, K::kButtonPress, "FromUser", "", "", "", "EVENTKEY",
                 "FromUser:123456789:CLICK:EVENTKEY"},
        KindCase{"oa_view", true, K::kLinkClicked, "FromUser", "www.qq.com", "", "", "",
                 "FromUser:123456789:VIEW:www.qq.com"},
        KindCase{"oa_location_event", false, K::kMessage, "", "", "", "", "", "fromUser:123456789:LOCATION"}),
    [](const ::testing::TestParamInfo<KindCase>& c) { return std::string(c.param.fixture); });

TEST(WechatOaCommands, SlashTextsAreCommands_LikeOnTelegram) {
    const WechatOaAdapter a(settings(false));
    std::string start = fixture("oa_text");
    start.replace(start.find("this is a test"), 14, "/Start  src_spring ");
    const auto p = a.parse_webhook(plain_post(start).view(), kNow);
    ASSERT_EQ(p.delivery.events.size(), 1U);
    EXPECT_EQ(p.delivery.events[0].kind, core::InboundKind::kCommand);
    EXPECT_EQ(p.delivery.events[0].command, "start");
    EXPECT_EQ(p.delivery.events[0].command_args, "src_spring");
    std::string path = fixture("oa_text");
    path.replace(path.find("this is a test"), 14, "/看看");
    EXPECT_EQ(a.parse_webhook(plain_post(path).view(), kNow).delivery.events.at(0).kind, core::InboundKind::kMessage);
}

TEST(WechatOaDedupe, TwoClicksInOneSecondOnDifferentMenusAreDistinct) {
    const WechatOaAdapter a(settings(false));
    std::string other = fixture("oa_click");
    other.replace(other.find("EVENTKEY"), 8, "OTHERKEY");
    const auto k1 = a.parse_webhook(plain_post(fixture("oa_click")).view(), kNow).delivery.dedupe_key;
    const auto k2 = a.parse_webhook(plain_post(other).view(), kNow).delivery.dedupe_key;
    EXPECT_NE(k1, k2);
    // The same message delivered again (WeChat retries) has the same key, whatever the query says.
    const auto again = a.parse_webhook(plain_post(fixture("oa_click"), "1409735999", "777").view(), kNow);
    EXPECT_EQ(again.delivery.dedupe_key, k1);
}

// --- Rejections -----------------------------------------------------------------------------------

TEST(WechatOaReject, TamperedSignature_Is401) {
    const WechatOaAdapter plain(settings(false));
    auto r = plain_post(fixture("oa_text"));
    r.query = query({{"signature", std::string(kPlainSignature)},
                     {"timestamp", "1409735670"},
                     {"nonce", std::string(kNonce)}});
    EXPECT_EQ(plain.parse_webhook(r.view(), kNow).status, 401);

    const WechatOaAdapter safe(settings(true));
    auto s = safe_post(fixture("oa_text"));
    const auto at = s.query.find("msg_signature=") + 14;
    s.query[at] = s.query[at] == 'a' ? 'b' : 'a';
    EXPECT_EQ(safe.parse_webhook(s.view(), kNow).status, 401);
    // The ciphertext changed under a signature made for another one.
    auto t = safe_post(fixture("oa_text"));
    const auto enc = t.body.find("<![CDATA[", t.body.find("<Encrypt>")) + 9;
    t.body[enc + 5] = t.body[enc + 5] == 'A' ? 'B' : 'A';
    EXPECT_EQ(safe.parse_webhook(t.view(), kNow).status, 401);
}

TEST(WechatOaReject, WrongAppId_Is401) {
    // Decrypts under our key, signed with our token, but carries another account's AppID.
    const WechatOaAdapter a(settings(true));
    const auto p = a.parse_webhook(safe_post(fixture("oa_text"), "wx0000000000000000").view(), kNow);
    EXPECT_EQ(p.status, 401);
    EXPECT_EQ(p.reason, "wrong_receive_id");
}

TEST(WechatOaReject, BadPadding_Is400) {
    const WechatOaAdapter a(settings(true));
    const auto p = a.parse_webhook(
        signed_envelope(test::badly_padded(kAesKey, fixture("oa_text"), kAppId)).view(), kNow);
    EXPECT_EQ(p.status, 400);
    EXPECT_EQ(p.reason, "crypto: bad padding");
}

TEST(WechatOaReject, TruncatedCiphertext_Is400) {
    const WechatOaAdapter a(settings(true));
    const auto crypto = test::make_crypto(kToken, kAesKey, kAppId);
    const std::string raw = base64_decode(crypto.encrypt(fixture("oa_text"))).value();
    // Not a whole number of blocks; then one block too few (structure checks fail).
    EXPECT_EQ(a.parse_webhook(signed_envelope(base64_encode(raw.substr(0, raw.size() - 5))).view(), kNow).status, 400);
    EXPECT_EQ(a.parse_webhook(signed_envelope(base64_encode(raw.substr(0, 16))).view(), kNow).status, 400);
    // Base64 cut short.
    const std::string b64 = base64_encode(raw);
    EXPECT_EQ(a.parse_webhook(signed_envelope(b64.substr(0, b64.size() - 3)).view(), kNow).status, 400);
}

TEST(WechatOaReject, MalformedXmlAndDoctype_Are400) {
    const WechatOaAdapter plain(settings(false));
    const WechatOaAdapter safe(settings(true));
    const std::string doctype =
        "<?xml version=\"1.0\"?><!DOCTYPE xml [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>"
        "<xml><ToUserName>a</ToUserName><FromUserName>b</FromUserName><MsgType>text</MsgType>"
        "<Content>&x;</Content></xml>";
    for (const std::string& body :
         {std::string("<xml><ToUserName>a</ToUserName>"), std::string("not xml"), std::string(""), doctype,
          std::string("<xml><a>1</a></xml><xml/>"), std::string("<other><MsgType>text</MsgType></other>"),
          std::string("<xml><ToUserName>a</ToUserName></xml>")}) {
        EXPECT_EQ(plain.parse_webhook(plain_post(body).view(), kNow).status, 400) << body;
        EXPECT_EQ(safe.parse_webhook(safe_post(body).view(), kNow).status, 400) << body;
    }
    // The envelope itself.
    auto r = safe_post(fixture("oa_text"));
    r.body = "<!DOCTYPE xml><xml><Encrypt>x</Encrypt></xml>";
    EXPECT_EQ(safe.parse_webhook(r.view(), kNow).status, 400);
    r.body = "<xml><ToUserName>a</ToUserName></xml>";
    EXPECT_EQ(safe.parse_webhook(r.view(), kNow).status, 400);
    // Deeper than the limit.
    std::string deep = "<xml>";
    for (int i = 0; i < 20; ++i) deep += "<a>";
    for (int i = 0; i < 20; ++i) deep += "</a>";
    deep += "</xml>";
    EXPECT_EQ(plain.parse_webhook(plain_post(deep).view(), kNow).status, 400);
}

TEST(WechatOaReject, MissingQueryParameters_Are401) {
    const WechatOaAdapter plain(settings(false));
    const WechatOaAdapter safe(settings(true));
    Request r;
    r.body = fixture("oa_text");
    for (const auto& q : {std::string(""), query({{"timestamp", "1"}, {"nonce", "2"}}),
                          query({{"signature", std::string(kPlainSignature)}, {"nonce", std::string(kNonce)}})}) {
        r.query = q;
        EXPECT_EQ(plain.parse_webhook(r.view(), kNow).status, 401) << q;
        EXPECT_EQ(safe.parse_webhook(r.view(), kNow).status, 401) << q;
    }
    // Safe mode refuses plaintext, even correctly signed.
    EXPECT_EQ(safe.parse_webhook(plain_post(fixture("oa_text")).view(), kNow).status, 401);
    auto s = safe_post(fixture("oa_text"));
    s.query = s.query.substr(0, s.query.find("&msg_signature"));
    EXPECT_EQ(safe.parse_webhook(s.view(), kNow).status, 401);
}

TEST(WechatOaReject, OtherMethods_Are405) {
    Request r = plain_post(fixture("oa_text"));
    r.method = "PUT";
    EXPECT_EQ(WechatOaAdapter(settings(false)).parse_webhook(r.view(), kNow).status, 405);
}

TEST(WechatOaReplayWindow, OldTimestampsAreAccepted_UnlessAWindowIsConfigured) {
    const auto old = plain_post(fixture("oa_text"), "1000000000");
    EXPECT_EQ(WechatOaAdapter(settings(false)).parse_webhook(old.view(), kNow).status, 0);
    auto s = settings(false);
    s.replay_window = std::chrono::seconds(300);
    const WechatOaAdapter windowed(s);
    EXPECT_EQ(windowed.parse_webhook(old.view(), kNow).status, 401);
    EXPECT_EQ(windowed.parse_webhook(plain_post(fixture("oa_text")).view(), kNow).status, 0);  // 31 s old
    EXPECT_EQ(windowed.parse_webhook(plain_post(fixture("oa_text"), "1409736100").view(), kNow).status, 401);
}

// --- Passive replies ------------------------------------------------------------------------------

core::IngestResult passive_result(const std::string& to, bool passive = true) {
    core::IngestResult result;
    core::OutboundMessage m;
    m.channel_id = "wx";
    m.chat_id = to;
    m.text = "你好 <b>&";
    m.buttons = {{core::Button{"价格方案", "menu:pricing", ""}, core::Button{"预约演示", "menu:demo", ""}}};
    m.passive = passive;
    result.replies.push_back(m);
    m.passive = false;
    m.text = "second";
    m.buttons.clear();
    result.replies.push_back(m);
    return result;
}

TEST(WechatOaPassiveReply, RendersTextWithNumberedOptions_InPlaintext) {
    const WechatOaAdapter a(settings(false));
    const auto parsed = a.parse_webhook(plain_post(fixture("oa_text")).view(), kNow);
    ASSERT_EQ(parsed.status, 0);
    const auto answer = a.answer(parsed, passive_result("fromUser"));
    EXPECT_EQ(answer.status, 200);
    const auto xml = parse_xml(answer.body);
    ASSERT_TRUE(std::holds_alternative<XmlElement>(xml)) << answer.body;
    const auto& x = std::get<XmlElement>(xml);
    EXPECT_EQ(x.child_text("ToUserName"), "fromUser");
    EXPECT_EQ(x.child_text("FromUserName"), "toUser");
    EXPECT_EQ(x.child_text("CreateTime"), "1409735700");
    EXPECT_EQ(x.child_text("MsgType"), "text");
    EXPECT_EQ(x.child_text("Content"), "你好 <b>&\n\n1. 价格方案\n2. 预约演示");
}

TEST(WechatOaPassiveReply, IsEncryptedAndSigned_InSafeMode) {
    const WechatOaAdapter a(settings(true));
    const auto parsed = a.parse_webhook(safe_post(fixture("oa_text")).view(), kNow);
    ASSERT_EQ(parsed.status, 0) << parsed.body;
    const auto answer = a.answer(parsed, passive_result("fromUser"));
    const auto outer = parse_xml(answer.body);
    ASSERT_TRUE(std::holds_alternative<XmlElement>(outer)) << answer.body;
    const auto& o = std::get<XmlElement>(outer);
    EXPECT_EQ(o.child("Content"), nullptr);  // nothing in the clear
    EXPECT_EQ(o.child_text("TimeStamp"), "1409735700");
    EXPECT_EQ(o.child_text("Nonce"), kNonce);
    const auto crypto = test::make_crypto(kToken, kAesKey, kAppId);
    ASSERT_TRUE(crypto.verify(o.child_text("MsgSignature"), o.child_text("TimeStamp"), o.child_text("Nonce"),
                              o.child_text("Encrypt")));
    const auto plain = crypto.decrypt(o.child_text("Encrypt"));
    ASSERT_TRUE(std::holds_alternative<std::string>(plain));
    const auto inner = parse_xml(std::get<std::string>(plain));
    ASSERT_TRUE(std::holds_alternative<XmlElement>(inner));
    EXPECT_EQ(std::get<XmlElement>(inner).child_text("ToUserName"), "fromUser");
    EXPECT_EQ(std::get<XmlElement>(inner).child_text("Content"), "你好 <b>&\n\n1. 价格方案\n2. 预约演示");
}

TEST(WechatOaPassiveReply, AnswersSuccess_WhenNoPassiveReplyOrDuplicate) {
    const WechatOaAdapter a(settings(false));
    const auto parsed = a.parse_webhook(plain_post(fixture("oa_text")).view(), kNow);
    EXPECT_EQ(a.answer(parsed, core::IngestResult{}).body, "success");
    EXPECT_EQ(a.answer(parsed, passive_result("fromUser", false)).body, "success");
    auto dup = passive_result("fromUser");
    dup.status = core::IngestStatus::kDuplicate;
    EXPECT_EQ(a.answer(parsed, dup).body, "success");
    // A passive reply for someone else never goes back in this answer.
    EXPECT_EQ(a.answer(parsed, passive_result("someoneElse")).body, "success");
}

// --- Sending ----------------------------------------------------------------------------------------

TEST(WechatOaSend, BuildsACustomerServiceTextMessage) {
    const WechatOaAdapter a(settings(false));
    core::OutboundMessage m;
    m.chat_id = "oOPENID";
    m.text = "Hi";
    m.buttons = {{core::Button{"Pricing", "menu:pricing", ""}}, {core::Button{"Site", "", "https://example.com"}}};
    const auto req = a.build_send(m, "TOKEN/+=");
    EXPECT_EQ(req.method, "POST");
    EXPECT_EQ(req.url, "http://127.0.0.1:9/cgi-bin/message/custom/send?access_token=TOKEN%2F%2B%3D");
    EXPECT_EQ(req.log_label.find("TOKEN"), std::string::npos);
    const auto body = json::parse(req.body);
    EXPECT_EQ(body, (json{{"touser", "oOPENID"},
                          {"msgtype", "text"},
                          {"text", {{"content", "Hi\n\n1. Pricing\nSite: https://example.com"}}}}));
}

struct CodeCase {
    int status;
    std::string body;
    Kind kind;
};

TEST(WechatOaSend, InterpretsErrorCodes) {
    const WechatOaAdapter a(settings(false));
    const std::vector<CodeCase> cases{
        {200, R"({"errcode":0,"errmsg":"ok"})", Kind::kSent},
        {200, R"({"errcode":40001,"errmsg":"invalid credential, access_token is invalid or not latest rid: 1"})",
         Kind::kTokenExpired},
        {200, R"({"errcode":40014,"errmsg":"invalid access_token"})", Kind::kTokenExpired},
        {200, R"({"errcode":42001,"errmsg":"access_token expired"})", Kind::kTokenExpired},
        {200, R"({"errcode":45015,"errmsg":"response out of time limit or subscription is canceled"})",
         Kind::kWindowClosed},
        {200, R"({"errcode":45047,"errmsg":"out of response count limit"})", Kind::kWindowClosed},
        {200, R"({"errcode":43004,"errmsg":"require subscribe"})", Kind::kUnreachable},
        {200, R"({"errcode":40003,"errmsg":"invalid openid"})", Kind::kUnreachable},
        {200, R"({"errcode":-1,"errmsg":"system error"})", Kind::kRetry},
        {200, R"({"errcode":44002,"errmsg":"empty post data"})", Kind::kFailed},
        {200, R"({"errcode":45009,"errmsg":"reach max api daily quota limit"})", Kind::kFailed},
        {200, "not json", Kind::kRetry},
        {502, "", Kind::kRetry},
        {500, R"({"errcode":0})", Kind::kRetry},
        {0, "", Kind::kRetry},
    };
    for (const auto& c : cases) {
        net::ApiResponse r;
        r.status = c.status;
        r.body = c.body;
        if (c.status == 0) r.transport_error = "connection refused";
        const auto outcome = a.interpret_send(core::OutboundMessage{}, r);
        EXPECT_EQ(outcome.kind, c.kind) << c.status << " " << c.body;
        EXPECT_EQ(outcome.error.find(" rid:"), std::string::npos);
    }
}

// --- Tokens and QR codes ----------------------------------------------------------------------------

TEST(WechatOaToken, AsksCgiBinToken_AndReadsTheAnswer) {
    const WechatOaAdapter a(settings(false));
    const auto req = a.build_token_request();
    ASSERT_TRUE(req);
    EXPECT_EQ(req->method, "GET");
    EXPECT_EQ(req->url,
              "http://127.0.0.1:9/cgi-bin/token?grant_type=client_credential&appid=wx2c2769f8efd9abc2&secret=app-secret");
    EXPECT_EQ(req->log_label.find("secret"), std::string::npos);
    net::ApiResponse r;
    r.status = 200;
    r.body = R"({"access_token":"ACCESS_TOKEN","expires_in":7200})";
    const auto t = a.parse_token_response(r);
    ASSERT_TRUE(t);
    EXPECT_EQ(t->token, "ACCESS_TOKEN");
    EXPECT_EQ(t->expires_in, std::chrono::seconds(7200));
    r.body = R"({"errcode":40013,"errmsg":"invalid appid"})";
    EXPECT_FALSE(a.parse_token_response(r));
    r.body = R"({"access_token":"","expires_in":7200})";
    EXPECT_FALSE(a.parse_token_response(r));
    r.status = 500;
    r.body = R"({"access_token":"x","expires_in":7200})";
    EXPECT_FALSE(a.parse_token_response(r));
}

TEST(WechatOaQrCode, BuildsTemporaryAndPermanentStringScenes) {
    const WechatOaAdapter a(settings(false));
    const auto temp = a.build_qrcode_request(QrCodeRequest{"src_spring", false, 604800}, "TOKEN");
    EXPECT_EQ(temp.url, "http://127.0.0.1:9/cgi-bin/qrcode/create?access_token=TOKEN");
    EXPECT_EQ(json::parse(temp.body), json::parse(R"({"expire_seconds": 604800, "action_name": "QR_STR_SCENE",
                                                     "action_info": {"scene": {"scene_str": "src_spring"}}})"));
    const auto perm = a.build_qrcode_request(QrCodeRequest{"rep_alice", true, 0}, "TOKEN");
    EXPECT_EQ(json::parse(perm.body), json::parse(R"({"action_name": "QR_LIMIT_STR_SCENE",
                                                     "action_info": {"scene": {"scene_str": "rep_alice"}}})"));
}

TEST(WechatOaQrCode, ReadsTheTicket_AndMakesTheImageUrl) {
    net::ApiResponse r;
    r.status = 200;
    r.body = R"({"ticket":"gQH47joAAAAAAAAAASxodHRwOi8vd2VpeGluLnFxLmNvbS9xL2taZ2Z3TVRtNzJXV1Brb3ZhYmJJAAIEZ23sUwMEmm3sUw==",)"
             R"("expire_seconds":60,"url":"http:\/\/weixin.qq.com\/q\/kZgfwMTm72WWPkovabbI"})";
    const auto parsed = WechatOaAdapter::parse_qrcode_response(r);
    ASSERT_TRUE(std::holds_alternative<QrCode>(parsed));
    const auto& code = std::get<QrCode>(parsed);
    EXPECT_EQ(code.content_url, "http://weixin.qq.com/q/kZgfwMTm72WWPkovabbI");
    EXPECT_EQ(code.expire_seconds, 60);
    EXPECT_EQ(WechatOaAdapter::showqrcode_url(code.ticket),
              "https://mp.weixin.qq.com/cgi-bin/showqrcode?ticket="
              "gQH47joAAAAAAAAAASxodHRwOi8vd2VpeGluLnFxLmNvbS9xL2taZ2Z3TVRtNzJXV1Brb3ZhYmJJAAIEZ23sUwMEmm3sUw%3D%3D");
    r.body = R"({"errcode":42001,"errmsg":"access_token expired"})";
    const auto expired = WechatOaAdapter::parse_qrcode_response(r);
    ASSERT_TRUE(std::holds_alternative<chat::SendOutcome>(expired));
    EXPECT_EQ(std::get<chat::SendOutcome>(expired).kind, Kind::kTokenExpired);
}

TEST(WechatOaAdapter, RefusesAMalformedEncodingAesKey) {
    auto s = settings(true);
    s.encoding_aes_key = std::string(42, 'a') + "!";
    EXPECT_THROW(WechatOaAdapter{s}, std::invalid_argument);
}

}  // namespace
}  // namespace leadhatch::adapters::wechat
