// The inbound pipeline's parts for platforms without inline keyboards and with passive replies
// (WeChat, WeCom): passive replies, numbered menus, QR scenes that name an owner, the one-shot
// welcome code, staff rep commands. Pure: a fake WriteTx records what the pipeline writes.
#include <gtest/gtest.h>

#include <map>
#include <optional>

#include "core/conversation/ingest.hpp"
#include "core/leads/referral.hpp"
#include "tests/fakes/fake_write_tx.hpp"

namespace leadhatch::core {
namespace {

class FixedClock final : public Clock {
public:
    Timestamp now() const override { return from_epoch_ms(1'700'000'000'000); }
};

using FakeTx = fakes::FakeWriteTx;

// The first batch's writes.
const WriteSet& first_writes(const FakeTx& tx) { return tx.applied.at(0); }

constexpr const char* kMessages = R"({
  "welcome": { "text": "欢迎 {{name}}",
               "buttons": [[ { "text": "价格方案", "data": "menu:pricing" }, { "text": "预约演示", "data": "menu:demo" } ],
                           [ { "text": "官网", "url": "https://example.com" } ]] },
  "help": "帮助", "unsubscribed": "已退订", "resubscribed": "欢迎回来",
  "scene.src_expo": "展会专属资料",
  "button.menu:demo": "请选择时间",
  "rep_help": "命令：认领 123",
  "rep_claimed": "线索 {{lead}}（{{lead_name}}）已分配给你",
  "rep_claim_unknown": "找不到线索 {{lead}}"
})";

class IngestWechat : public ::testing::Test {
protected:
    IngestWechat() {
        std::vector<TemplateProblem> problems;
        templates_.add_locale("zh-CN", kMessages, "zh-CN.json", problems);
        EXPECT_TRUE(problems.empty());
        channels_.push_back(ChannelInfo{"wx", Platform::kWechatOa, "zh-CN", true, true});
        channels_.push_back(ChannelInfo{"wecom", Platform::kWecom, "zh-CN", false, true});
        channels_.push_back(ChannelInfo{"tg", Platform::kTelegram, "en", false, false});
        processor_ = std::make_unique<IngestProcessor>(
            templates_,
            [this](std::string_view id) -> const ChannelInfo* {
                for (const auto& c : channels_) {
                    if (c.id == id) return &c;
                }
                return nullptr;
            },
            clock_);
        ids_.add(IdRange{1000, 100});
    }

    std::vector<IngestResult> run(const std::vector<InboundDelivery>& deliveries) {
        std::vector<const InboundDelivery*> batch;
        for (const auto& d : deliveries) batch.push_back(&d);
        return processor_->process(tx_, batch, ids_);
    }

    static InboundDelivery delivery(const std::string& channel, const std::string& key, InboundEvent e) {
        InboundDelivery d;
        d.channel_id = channel;
        d.dedupe_key = key;
        d.events.push_back(std::move(e));
        return d;
    }

    static InboundEvent follow(const std::string& user, const std::string& scene = {}) {
        InboundEvent e;
        e.kind = InboundKind::kFollow;
        e.user.external_id = user;
        e.chat.external_id = user;
        e.scene = scene;
        e.occurred_at = from_epoch_ms(1'699'999'999'000);
        return e;
    }

    static InboundEvent text(const std::string& user, const std::string& t) {
        InboundEvent e;
        e.kind = InboundKind::kMessage;
        e.user.external_id = user;
        e.chat.external_id = user;
        e.text = t;
        e.occurred_at = from_epoch_ms(1'699'999'999'000);
        return e;
    }

    void known(const std::string& channel, const std::string& user, std::int64_t lead, const std::string& menu = {}) {
        tx_.add_identity(channel, user, LeadId{lead}).menu = menu;
    }

    static const IdentityUpdate* identity_update(const WriteSet& w, const std::string& user) {
        for (const auto& u : w.identity_updates) {
            if (u.key.external_user_id == user) return &u;
        }
        return nullptr;
    }

    static std::vector<std::string> event_kinds(const WriteSet& w) {
        std::vector<std::string> out;
        for (const auto& e : w.events) out.push_back(e.kind);
        return out;
    }

    FixedClock clock_;
    TemplateCatalog templates_;
    std::vector<ChannelInfo> channels_;
    std::unique_ptr<IngestProcessor> processor_;
    FakeTx tx_;
    IdPool ids_;
};

TEST_F(IngestWechat, FirstReplyIsPassive_AndItsOutboxRowIsSent) {
    const auto results = run({delivery("wx", "k1", follow("o1", "src_expo"))});
    ASSERT_EQ(results.size(), 1U);
    const auto& replies = results[0].replies;
    ASSERT_EQ(replies.size(), 2U);  // the welcome, then the scene's own message
    EXPECT_TRUE(replies[0].passive);
    EXPECT_EQ(replies[0].text, "欢迎 ");
    EXPECT_FALSE(replies[1].passive);
    EXPECT_EQ(replies[1].text, "展会专属资料");
    const auto& outbox = first_writes(tx_).outbox;
    ASSERT_EQ(outbox.size(), 2U);
    EXPECT_EQ(outbox[0].status, "sent");
    EXPECT_EQ(outbox[1].status, "pending");
    EXPECT_EQ(outbound_from_json(outbox[0].body)->passive, true);
    // The lead came from the scene.
    ASSERT_EQ(first_writes(tx_).new_leads.size(), 1U);
    EXPECT_EQ(first_writes(tx_).new_leads[0].source_kind, "campaign");
    EXPECT_EQ(first_writes(tx_).new_leads[0].source_campaign, "expo");
}

TEST_F(IngestWechat, EachDeliveryInABatchHasItsOwnPassiveReply) {
    const auto results = run({delivery("wx", "a", follow("o1")), delivery("wx", "b", follow("o2"))});
    ASSERT_EQ(results.size(), 2U);
    EXPECT_TRUE(results[0].replies.at(0).passive);
    EXPECT_TRUE(results[1].replies.at(0).passive);
}

TEST_F(IngestWechat, OtherChannelsNeverMarkPassive) {
    InboundEvent start = text("7", "");
    start.kind = InboundKind::kCommand;
    start.command = "start";
    const auto results = run({delivery("tg", "1", start)});
    ASSERT_EQ(results[0].replies.size(), 1U);
    EXPECT_FALSE(results[0].replies[0].passive);
    EXPECT_EQ(first_writes(tx_).outbox[0].status, "pending");
    EXPECT_EQ(identity_update(first_writes(tx_), "7"), nullptr);  // no menu remembered on Telegram
}

TEST_F(IngestWechat, FollowerScanningAgain_IsNotWelcomedTwice_ButGetsTheScene) {
    known("wx", "o1", 42);
    const auto results = run({delivery("wx", "s", follow("o1", "src_expo"))});
    ASSERT_EQ(results[0].replies.size(), 1U);
    EXPECT_EQ(results[0].replies[0].text, "展会专属资料");
    EXPECT_TRUE(results[0].replies[0].passive);
    ASSERT_EQ(first_writes(tx_).touches.size(), 1U);  // the later touch is kept
    EXPECT_EQ(first_writes(tx_).touches[0].campaign, "expo");
}

TEST_F(IngestWechat, Unfollow_ThenFollow_TogglesReachability_AndWelcomesTheReturn) {
    known("wx", "o1", 42);
    InboundEvent gone = follow("o1");
    gone.kind = InboundKind::kUnfollow;
    run({delivery("wx", "u", gone)});
    ASSERT_NE(identity_update(first_writes(tx_), "o1"), nullptr);
    EXPECT_EQ(identity_update(first_writes(tx_), "o1")->unreachable, true);
    tx_.identities[{"wx", "o1"}].unreachable = true;
    const auto back = run({delivery("wx", "f", follow("o1"))});
    EXPECT_EQ(identity_update(tx_.applied.at(1), "o1")->unreachable, false);
    ASSERT_EQ(back[0].replies.size(), 1U);
    EXPECT_EQ(back[0].replies[0].text, "欢迎 ");
}

TEST_F(IngestWechat, NumberedMenu_IsRemembered_AndANumberPressesIt) {
    run({delivery("wx", "f", follow("o1"))});
    const auto* u = identity_update(first_writes(tx_), "o1");
    ASSERT_NE(u, nullptr);
    ASSERT_TRUE(u->menu);
    EXPECT_EQ(decode_menu(*u->menu), (std::vector<std::string>{"menu:pricing", "menu:demo"}));

    known("wx", "o1", 1000, *u->menu);
    const auto results = run({delivery("wx", "m2", text("o1", " 2 "))});
    const auto& w = tx_.applied.at(1);
    EXPECT_EQ(event_kinds(w), (std::vector<std::string>{"button_press"}));
    EXPECT_NE(w.events[0].data.find("\"data\":\"menu:demo\""), std::string::npos) << w.events[0].data;
    ASSERT_NE(identity_update(w, "o1"), nullptr);
    EXPECT_EQ(identity_update(w, "o1")->menu, std::string{});  // forgotten once used
    ASSERT_EQ(results[0].replies.size(), 1U);
    EXPECT_EQ(results[0].replies[0].text, "请选择时间");
}

TEST_F(IngestWechat, NumbersOutsideTheMenu_OrWithoutOne_StayMessages) {
    known("wx", "o1", 1000, encode_menu({"menu:pricing", "menu:demo"}));
    known("wx", "o2", 1001);
    run({delivery("wx", "a", text("o1", "3")), delivery("wx", "b", text("o2", "1")),
         delivery("wx", "c", text("o1", "1 please"))});
    EXPECT_EQ(event_kinds(first_writes(tx_)), (std::vector<std::string>{"message", "message", "message"}));
}

TEST_F(IngestWechat, RepScene_MakesTheSalespersonTheNewLeadsOwner) {
    run({delivery("wx", "f", follow("o9", "rep_alice"))});
    const auto& w = first_writes(tx_);
    ASSERT_EQ(w.new_leads.size(), 1U);
    EXPECT_EQ(w.new_leads[0].source_campaign, "rep_alice");
    EXPECT_EQ(w.new_leads[0].owner, "alice");  // written with the new row, not updated after it
    EXPECT_TRUE(w.lead_updates.empty());
    const auto kinds = event_kinds(w);
    EXPECT_NE(std::find(kinds.begin(), kinds.end(), "owner_changed"), kinds.end());
    // An existing lead scanning a salesperson's code keeps its owner; the touch is recorded.
    known("wx", "o8", 55);
    run({delivery("wx", "g", follow("o8", "rep_bob"))});
    for (const auto& u : tx_.applied.at(1).lead_updates) EXPECT_FALSE(u.owner);
    EXPECT_EQ(tx_.applied.at(1).touches.at(0).campaign, "rep_bob");
}

TEST_F(IngestWechat, ReferralScene_CreditsTheReferrer) {
    tx_.leads[7] = LeadRecord{};
    run({delivery("wx", "f", follow("o5", "ref_" + referral_code(LeadId{7})))});
    EXPECT_EQ(first_writes(tx_).new_leads.at(0).source_kind, "referral");
    EXPECT_EQ(first_writes(tx_).new_leads.at(0).referred_by, LeadId{7});
}

TEST_F(IngestWechat, WecomContact_IsOwnedByTheEmployee_AndGetsOneWelcomeWithTheCode) {
    InboundEvent e = follow("wmEXTERNAL0000000000001", "src_expo");
    e.owner_hint = "zhangsan";
    e.reply_token = "WELCOMECODE";
    const auto results = run({delivery("wecom", "ext", e)});
    ASSERT_EQ(results[0].replies.size(), 1U);  // the code carries one message: the scene's
    EXPECT_EQ(results[0].replies[0].reply_token, "WELCOMECODE");
    EXPECT_EQ(results[0].replies[0].text, "展会专属资料");
    EXPECT_FALSE(results[0].replies[0].passive);
    EXPECT_EQ(first_writes(tx_).new_leads.at(0).owner, "zhangsan");

    InboundEvent plain = follow("wmEXTERNAL0000000000002");
    plain.owner_hint = "lisi";
    plain.reply_token = "CODE2";
    const auto second = run({delivery("wecom", "ext2", plain)});
    ASSERT_EQ(second[0].replies.size(), 1U);
    EXPECT_EQ(second[0].replies[0].reply_token, "CODE2");
    EXPECT_EQ(second[0].replies[0].text, "欢迎 ");  // rendered with numbered options by the adapter
    EXPECT_EQ(second[0].replies[0].buttons.size(), 2U);
    // Without a code (no chat to answer in) nothing is sent.
    InboundEvent silent = follow("wmEXTERNAL0000000000003");
    silent.chat.external_id.clear();
    EXPECT_TRUE(run({delivery("wecom", "ext3", silent)})[0].replies.empty());
}

TEST_F(IngestWechat, StaffClaim_AssignsTheLead_AndAnswersTheEmployee) {
    LeadRecord lead;
    lead.id = LeadId{123};
    lead.display_name = "王五";
    lead.owner = "";
    tx_.leads[123] = lead;
    InboundEvent e = text("zhangsan", "认领 123");
    e.staff = true;
    e.owner_hint = "zhangsan";
    const auto results = run({delivery("wecom", "m1", e)});
    const auto& w = first_writes(tx_);
    EXPECT_TRUE(w.new_leads.empty());  // employees are not leads
    EXPECT_TRUE(w.new_identities.empty());
    ASSERT_EQ(w.lead_updates.size(), 1U);
    EXPECT_EQ(w.lead_updates[0].id, LeadId{123});
    EXPECT_EQ(w.lead_updates[0].owner, "zhangsan");
    EXPECT_EQ(event_kinds(w), (std::vector<std::string>{"owner_changed"}));
    EXPECT_EQ(w.events[0].actor, "rep:zhangsan");
    ASSERT_EQ(results[0].replies.size(), 1U);
    EXPECT_EQ(results[0].replies[0].chat_id, "zhangsan");
    EXPECT_EQ(results[0].replies[0].text, "线索 123（王五）已分配给你");
    EXPECT_FALSE(results[0].replies[0].lead_id);

    InboundEvent unknown = e;
    unknown.text = "claim 999";
    EXPECT_EQ(run({delivery("wecom", "m2", unknown)})[0].replies.at(0).text, "找不到线索 999");
    InboundEvent other = e;
    other.text = "你好";
    EXPECT_EQ(run({delivery("wecom", "m3", other)})[0].replies.at(0).text, "命令：认领 123");
}

TEST(ClaimCommand, Parses) {
    EXPECT_EQ(parse_claim_command("claim 123"), 123);
    EXPECT_EQ(parse_claim_command("  Claim #42 "), 42);
    EXPECT_EQ(parse_claim_command("/claim 7"), 7);
    EXPECT_EQ(parse_claim_command("认领 9"), 9);
    EXPECT_EQ(parse_claim_command("认领9"), 9);
    EXPECT_FALSE(parse_claim_command("claim"));
    EXPECT_FALSE(parse_claim_command("claim abc"));
    EXPECT_FALSE(parse_claim_command("claim 0"));
    EXPECT_FALSE(parse_claim_command("claim 12 34"));
    EXPECT_FALSE(parse_claim_command("reclaim 12"));
    EXPECT_FALSE(parse_claim_command("claim 99999999999999999999"));
}

TEST(LatePassive, BecomesAnOrdinaryOutboxRow) {
    std::vector<OutboundMessage> replies(2);
    replies[0].passive = true;
    replies[0].idem_key = "in:wx:k:0:welcome";
    replies[0].chat_id = "o1";
    replies[1].idem_key = "in:wx:k:0:scene";
    const auto rows = requeue_late_passive(replies, from_epoch_ms(5));
    ASSERT_EQ(rows.size(), 1U);
    EXPECT_FALSE(replies[0].passive);
    EXPECT_EQ(rows[0].status, "pending");
    EXPECT_EQ(rows[0].idem_key, "in:wx:k:0:welcome:late");
    EXPECT_EQ(rows[0].chat_id, "o1");
    EXPECT_FALSE(outbound_from_json(rows[0].body)->passive);
}

TEST(NumberedMenu, RendersAndRoundTrips) {
    const std::vector<std::vector<Button>> buttons{{Button{"Pricing", "menu:pricing", ""}, Button{"Book a demo", "menu:demo", ""}},
                                                   {Button{"Site", "", "https://example.com"}}};
    EXPECT_EQ(render_numbered("text", buttons), "text\n\n1. Pricing\n2. Book a demo\nSite: https://example.com");
    EXPECT_EQ(render_numbered("", buttons), "1. Pricing\n2. Book a demo\nSite: https://example.com");
    EXPECT_EQ(render_numbered("text", {}), "text");
    EXPECT_EQ(numbered_options(buttons), (std::vector<std::string>{"menu:pricing", "menu:demo"}));
    EXPECT_EQ(decode_menu(encode_menu({"a\"b", "引号"})), (std::vector<std::string>{"a\"b", "引号"}));
    EXPECT_EQ(encode_menu({}), "");
    EXPECT_TRUE(decode_menu("").empty());
    EXPECT_TRUE(decode_menu("not json").empty());
    OutboundMessage m;
    m.kind = OutboundKind::kText;
    m.passive = true;
    EXPECT_TRUE(outbound_from_json(outbound_to_json(m))->passive);
}

}  // namespace
}  // namespace leadhatch::core
