// The inbound pipeline (IngestProcessor) against an in-memory WriteTx: what one batch writes
// (leads, identities, events, touches, memberships, opt-outs, outbox) and answers, deduplication
// within and across batches, attribution, replies in the user's locale, and with a LeadService
// status and scoring. Pure: FakeWriteTx records every WriteSet, FakeClock gives "now".
#include "core/conversation/ingest.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/leads/referral.hpp"
#include "tests/fakes/fake_clock.hpp"
#include "tests/fakes/fake_write_tx.hpp"
#include "tests/support/template_files.hpp"

namespace leadhatch::core {
namespace {

using testing::describe;

using nlohmann::json;
using std::chrono::hours;
using std::chrono::minutes;

// The time axis: events happen a little before the clock reads them.
const Timestamp kNow = from_epoch_ms(fakes::FakeClock::kDefaultStartMs);
const Timestamp kAt = kNow - std::chrono::seconds{2};
constexpr std::int64_t kFirstId = 100;

constexpr const char* kEn = R"({
  "welcome": { "text": "Hi {{name}}!",
               "buttons": [[ { "text": "Pricing", "data": "menu:pricing" }, { "text": "Demo", "data": "menu:demo" } ]] },
  "help": "Commands: /start /stop",
  "unsubscribed": "You are unsubscribed.",
  "resubscribed": "Welcome back, {{name}}!",
  "button.menu:pricing": "Our prices, {{name}}"
})";

constexpr const char* kZh = R"({
  "welcome": "你好 {{name}}！",
  "unsubscribed": "已退订",
  "resubscribed": "欢迎回来 {{name}}",
  "button.menu:pricing": "价格如下"
})";

// No decay: exact numbers. "price" 25 points capped at 30 in total; "demo" 25 points, no cap.
constexpr const char* kScoring = R"({
  "decay": { "behavioral_half_life_days": 0 },
  "grades": { "hot": 60, "warm": 30 },
  "thresholds": { "mql": 40, "sql": 80 },
  "rules": [
    { "id": "pricing", "kind": "keyword", "keywords": ["price", "价格"], "points": 25, "cap": 30 },
    { "id": "demo", "kind": "keyword", "keywords": ["demo"], "points": 25 },
    { "id": "pricing_button", "kind": "button", "data": "menu:pricing", "points": 5 }
  ]
})";

// ---- events ---------------------------------------------------------------------------------

InboundEvent private_event(InboundKind kind, const std::string& user, Timestamp at = kAt) {
    InboundEvent e;
    e.kind = kind;
    e.occurred_at = at;
    e.user.external_id = user;
    e.user.display_name = "Ann";
    e.user.username = "ann";
    e.user.language = "en";
    e.chat.external_id = user;
    e.chat.type = ChatType::kPrivate;
    return e;
}

InboundEvent text(const std::string& user, const std::string& t, Timestamp at = kAt) {
    auto e = private_event(InboundKind::kMessage, user, at);
    e.text = t;
    e.message_id = "m1";
    return e;
}

InboundEvent command(const std::string& user, const std::string& name, const std::string& args = {},
                     Timestamp at = kAt) {
    auto e = private_event(InboundKind::kCommand, user, at);
    e.command = name;
    e.command_args = args;
    e.text = "/" + name + (args.empty() ? "" : " " + args);
    return e;
}

InboundEvent button(const std::string& user, const std::string& data, const std::string& token) {
    auto e = private_event(InboundKind::kButtonPress, user);
    e.button_data = data;
    e.reply_token = token;
    return e;
}

InboundEvent in_group(InboundEvent e, InboundKind kind) {
    e.kind = kind;
    e.chat.external_id = "-100";
    e.chat.type = ChatType::kGroup;
    e.chat.title = "Community";
    return e;
}

InboundDelivery delivery(const std::string& key, std::vector<InboundEvent> events, const std::string& channel = "tg") {
    InboundDelivery d;
    d.channel_id = channel;
    d.dedupe_key = key;
    d.events = std::move(events);
    return d;
}

// ---- lookups in what was written ------------------------------------------------------------

std::vector<EventRow> events_of(const fakes::FakeWriteTx& tx, const std::string& kind) {
    std::vector<EventRow> out;
    for (const auto& e : tx.collect(&WriteSet::events)) {
        if (e.kind == kind) out.push_back(e);
    }
    return out;
}

std::vector<LeadUpdate> updates_of(const fakes::FakeWriteTx& tx, std::int64_t lead) {
    std::vector<LeadUpdate> out;
    for (const auto& u : tx.collect(&WriteSet::lead_updates)) {
        if (u.id.value == lead) out.push_back(u);
    }
    return out;
}

json data_of(const EventRow& e) { return json::parse(e.data); }

class IngestTest : public ::testing::Test {
   protected:
    IngestTest() {
        std::vector<TemplateProblem> problems;
        templates_.add_locale("en", kEn, "en.json", problems);
        templates_.add_locale("zh-CN", kZh, "zh-CN.json", problems);
        EXPECT_TRUE(problems.empty()) << describe(problems);
        channels_.push_back(ChannelInfo{"tg", Platform::kTelegram, "en", false, false});
        channels_.push_back(ChannelInfo{"tg2", Platform::kTelegram, "en", false, false});
        ids_.add(IdRange{kFirstId, 1000});
    }

    std::vector<IngestResult> run(const std::vector<InboundDelivery>& deliveries, const LeadService* leads = nullptr) {
        IngestProcessor processor(
            templates_,
            [this](std::string_view id) -> const ChannelInfo* {
                for (const auto& c : channels_) {
                    if (c.id == id) return &c;
                }
                return nullptr;
            },
            clock_, leads);
        std::vector<const InboundDelivery*> batch;
        for (const auto& d : deliveries) batch.push_back(&d);
        return processor.process(tx_, batch, ids_);
    }

    // An existing lead with an identity on "tg".
    LeadRecord& known(std::int64_t id, const std::string& user, const std::string& language = "en") {
        auto& lead = tx_.add_lead(fakes::FakeWriteTx::make_lead(id, kNow - hours{24 * 30}));
        lead.display_name = "Ann";
        lead.language = language;
        tx_.add_identity("tg", user, LeadId{id}, "Ann", language).username = "ann";
        tx_.leads[id].username = "ann";
        return tx_.leads[id];
    }

    fakes::FakeClock clock_;
    fakes::FakeWriteTx tx_;
    IdPool ids_;
    TemplateCatalog templates_;
    std::vector<ChannelInfo> channels_;
};

// ---- a first delivery -------------------------------------------------------------------------

TEST_F(IngestTest, CreatesLeadIdentityEventsAndTouch_WhenFirstMessageArrives) {
    const auto results = run({delivery("u1", {text("555", "hello")})});
    ASSERT_EQ(results.size(), 1u);
    EXPECT_EQ(results[0].status, IngestStatus::kAccepted);
    EXPECT_TRUE(results[0].replies.empty()) << "a plain message is not answered";

    ASSERT_EQ(tx_.applied.size(), 1u);
    const WriteSet& w = tx_.applied[0];
    EXPECT_EQ(w.now, kNow);
    EXPECT_EQ(w.processed, (std::vector<InboundKey>{{"tg", "u1"}}));

    ASSERT_EQ(w.new_leads.size(), 1u);
    const LeadRow& lead = w.new_leads[0];
    EXPECT_EQ(lead.id, LeadId{kFirstId});
    EXPECT_EQ(lead.display_name, "Ann");
    EXPECT_EQ(lead.username, "ann");
    EXPECT_EQ(lead.language, "en");
    EXPECT_EQ(lead.source_kind, "inbound");
    EXPECT_EQ(lead.source_channel, "tg");
    EXPECT_EQ(lead.referral_code, referral_code(LeadId{kFirstId}));
    EXPECT_FALSE(lead.referred_by);
    EXPECT_EQ(lead.created_at, kNow);

    ASSERT_EQ(w.new_identities.size(), 1u);
    EXPECT_EQ(w.new_identities[0].key, (IdentityKey{"tg", "555"}));
    EXPECT_EQ(w.new_identities[0].lead_id, LeadId{kFirstId});
    EXPECT_EQ(w.new_identities[0].display_name, "Ann");

    ASSERT_EQ(w.touches.size(), 1u);
    EXPECT_EQ(w.touches[0].lead_id, LeadId{kFirstId});
    EXPECT_EQ(w.touches[0].channel_id, "tg");
    EXPECT_EQ(w.touches[0].source_kind, "inbound");
    EXPECT_EQ(w.touches[0].at, kNow);

    ASSERT_EQ(w.events.size(), 2u);
    EXPECT_EQ(w.events[0].kind, "lead_created");
    EXPECT_EQ(w.events[0].actor, "system");
    EXPECT_EQ(data_of(w.events[0]), json::parse(R"({"source":"inbound","channel":"tg"})"));
    EXPECT_EQ(w.events[1].kind, "message");
    EXPECT_EQ(w.events[1].actor, "user");
    EXPECT_EQ(w.events[1].lead_id, LeadId{kFirstId});
    EXPECT_EQ(w.events[1].occurred_at, kAt);
    EXPECT_EQ(data_of(w.events[1]),
              json::parse(R"({"text":"hello","message_id":"m1","chat":{"id":"555","type":"private"}})"));

    // The new lead is written once: its activity goes into the row, not an update after it.
    EXPECT_TRUE(w.lead_updates.empty());
    EXPECT_EQ(w.new_leads[0].last_seen_at, std::optional<Timestamp>(kNow));  // created later than the message
    EXPECT_FALSE(w.new_leads[0].updated_at) << "activity alone is not an edit";
    EXPECT_TRUE(w.outbox.empty());
    EXPECT_EQ(ids_.available(), 999);
}

TEST_F(IngestTest, UpdatesProfileWithoutNewLead_WhenKnownUserWritesAgain) {
    known(7, "555");
    auto e = text("555", "hi again");
    e.user.display_name = "Ann Lee";
    e.user.username = "";  // an empty value does not erase the known one
    run({delivery("u1", {e})});
    ASSERT_EQ(tx_.applied.size(), 1u);
    const WriteSet& w = tx_.applied[0];
    EXPECT_TRUE(w.new_leads.empty());
    EXPECT_TRUE(w.new_identities.empty());
    EXPECT_TRUE(w.touches.empty()) << "no attribution, no new touch";
    ASSERT_EQ(w.identity_updates.size(), 1u);
    EXPECT_EQ(w.identity_updates[0].display_name, std::optional<std::string>("Ann Lee"));
    EXPECT_FALSE(w.identity_updates[0].username.has_value());
    ASSERT_EQ(w.lead_updates.size(), 1u);
    EXPECT_EQ(w.lead_updates[0].id, LeadId{7});
    EXPECT_EQ(w.lead_updates[0].display_name, std::optional<std::string>("Ann Lee"));
    EXPECT_EQ(ids_.available(), 1000) << "no id taken";
}

// The processor takes occurred_at as the platform gave it (even an undated event); rows it
// creates are stamped with the clock.
TEST_F(IngestTest, KeepsEventTimeAsGiven_AndStampsRowsWithClock) {
    clock_.advance(minutes{5});
    run({delivery("u1", {text("555", "no date", Timestamp{})})});
    ASSERT_EQ(tx_.applied.size(), 1u);
    const WriteSet& w = tx_.applied[0];
    EXPECT_EQ(w.now, kNow + minutes{5});
    ASSERT_EQ(w.new_leads.size(), 1u);
    EXPECT_EQ(w.new_leads[0].created_at, kNow + minutes{5});
    for (const auto& e : w.events) EXPECT_EQ(e.occurred_at, Timestamp{}) << e.kind;
}

// ---- deduplication ----------------------------------------------------------------------------

TEST_F(IngestTest, ReturnsDuplicateAndWritesNothing_WhenRedeliveredInLaterBatch) {
    const auto first = run({delivery("u1", {command("555", "start")})});
    ASSERT_EQ(first[0].status, IngestStatus::kAccepted);
    ASSERT_EQ(first[0].replies.size(), 1u);
    ASSERT_EQ(tx_.applied.size(), 1u);
    const auto ids_left = ids_.available();

    clock_.advance(minutes{1});
    const auto again = run({delivery("u1", {command("555", "start")})});
    ASSERT_EQ(again.size(), 1u);
    EXPECT_EQ(again[0].status, IngestStatus::kDuplicate);
    EXPECT_TRUE(again[0].replies.empty());
    EXPECT_EQ(tx_.applied.size(), 1u) << "nothing written for a duplicate-only batch";
    EXPECT_EQ(ids_.available(), ids_left);
}

TEST_F(IngestTest, MarksSecondCopyDuplicate_WhenSameKeyTwiceInOneBatch) {
    const auto results = run({delivery("u1", {command("555", "start")}), delivery("u1", {command("555", "start")})});
    ASSERT_EQ(results.size(), 2u);
    EXPECT_EQ(results[0].status, IngestStatus::kAccepted);
    EXPECT_EQ(results[0].replies.size(), 1u);
    EXPECT_EQ(results[1].status, IngestStatus::kDuplicate);
    EXPECT_TRUE(results[1].replies.empty());
    ASSERT_EQ(tx_.applied.size(), 1u);
    EXPECT_EQ(tx_.applied[0].processed.size(), 1u);
    EXPECT_EQ(tx_.applied[0].new_leads.size(), 1u);
    EXPECT_EQ(tx_.applied[0].outbox.size(), 1u);
    EXPECT_EQ(events_of(tx_, "command").size(), 1u);
}

TEST_F(IngestTest, ProcessesBoth_WhenSameKeyOnTwoChannels) {
    const auto results = run({delivery("u1", {text("555", "a")}, "tg"), delivery("u1", {text("555", "b")}, "tg2")});
    EXPECT_EQ(results[0].status, IngestStatus::kAccepted);
    EXPECT_EQ(results[1].status, IngestStatus::kAccepted);
    EXPECT_EQ(tx_.collect(&WriteSet::processed).size(), 2u);
    EXPECT_EQ(tx_.collect(&WriteSet::new_leads).size(), 2u) << "one identity per channel";
}

TEST_F(IngestTest, NeverDeduplicates_WhenDeliveryHasNoKey) {
    const auto results = run({delivery("", {text("555", "a")}), delivery("", {text("555", "a")})});
    EXPECT_EQ(results[0].status, IngestStatus::kAccepted);
    EXPECT_EQ(results[1].status, IngestStatus::kAccepted);
    EXPECT_TRUE(tx_.collect(&WriteSet::processed).empty());
    EXPECT_EQ(events_of(tx_, "message").size(), 2u);
    EXPECT_EQ(tx_.collect(&WriteSet::new_leads).size(), 1u) << "the second event finds the first one's lead";
}

// ---- /start attribution -----------------------------------------------------------------------

TEST_F(IngestTest, AttributesCampaign_WhenStartHasSrcPayload) {
    run({delivery("u1", {command("555", "start", "src_expo2026")})});
    const WriteSet& w = tx_.applied.at(0);
    ASSERT_EQ(w.new_leads.size(), 1u);
    EXPECT_EQ(w.new_leads[0].source_kind, "campaign");
    EXPECT_EQ(w.new_leads[0].source_campaign, "expo2026");
    EXPECT_EQ(w.new_leads[0].source_detail, "src_expo2026");
    ASSERT_EQ(w.touches.size(), 1u);
    EXPECT_EQ(w.touches[0].source_kind, "campaign");
    EXPECT_EQ(w.touches[0].campaign, "expo2026");
    const auto created = events_of(tx_, "lead_created");
    ASSERT_EQ(created.size(), 1u);
    EXPECT_EQ(data_of(created[0]), json::parse(R"({"source":"campaign","campaign":"expo2026","channel":"tg"})"));
}

TEST_F(IngestTest, TouchesButKeepsFirstSource_WhenKnownLeadStartsFromCampaign) {
    known(7, "555");
    run({delivery("u1", {command("555", "start", "src_webinar")})});
    const WriteSet& w = tx_.applied.at(0);
    EXPECT_TRUE(w.new_leads.empty());
    ASSERT_EQ(w.touches.size(), 1u);
    EXPECT_EQ(w.touches[0].lead_id, LeadId{7});
    EXPECT_EQ(w.touches[0].source_kind, "campaign");
    EXPECT_EQ(w.touches[0].campaign, "webinar");
}

TEST_F(IngestTest, RecordsNoTouchNorCredit_WhenALeadOpensItsOwnReferralLink) {
    known(7, "555");
    run({delivery("u1", {command("555", "start", "ref_" + referral_code(LeadId{7}))})});
    EXPECT_TRUE(tx_.collect(&WriteSet::touches).empty());
    EXPECT_TRUE(events_of(tx_, "referral_credited").empty());
    EXPECT_EQ(tx_.lead(7).referral_count, 0);
    EXPECT_EQ(events_of(tx_, "command").size(), 1u);  // the /start itself is on the timeline
}

TEST_F(IngestTest, CreditsReferrerOnce_WhenStartHasRefPayload) {
    known(7, "111");
    const std::string payload = "ref_" + referral_code(LeadId{7});
    // Two /starts with the code in one batch, and a third in a later batch.
    run({delivery("u1", {command("555", "start", payload)}), delivery("u2", {command("555", "start", payload)})});
    run({delivery("u3", {command("555", "start", payload)})});

    const auto leads = tx_.collect(&WriteSet::new_leads);
    ASSERT_EQ(leads.size(), 1u);
    EXPECT_EQ(leads[0].source_kind, "referral");
    EXPECT_EQ(leads[0].referred_by, LeadId{7});
    EXPECT_EQ(leads[0].source_detail, payload);

    int credited = 0;
    for (const auto& u : updates_of(tx_, 7)) credited += u.referral_count_delta;
    EXPECT_EQ(credited, 1);
    EXPECT_EQ(tx_.lead(7).referral_count, 1);
    const auto ev = events_of(tx_, "referral_credited");
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(ev[0].lead_id, LeadId{7});
    EXPECT_EQ(data_of(ev[0]), json::parse(R"({"referred_lead":100})"));

    const auto touches = tx_.collect(&WriteSet::touches);
    ASSERT_FALSE(touches.empty());
    EXPECT_EQ(touches[0].source_kind, "referral");
    EXPECT_EQ(touches[0].referral_code, referral_code(LeadId{7}));
    EXPECT_EQ(touches[0].referrer, LeadId{7});
}

TEST_F(IngestTest, AcceptsUpperCaseCode_WhenReferralTypedByHand) {
    known(7, "111");
    std::string code = referral_code(LeadId{7});
    std::transform(code.begin(), code.end(), code.begin(),
                   [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
    run({delivery("u1", {command("555", "start", "ref_" + code)})});
    ASSERT_EQ(tx_.collect(&WriteSet::new_leads).size(), 1u);
    EXPECT_EQ(tx_.collect(&WriteSet::new_leads)[0].referred_by, LeadId{7});
}

TEST_F(IngestTest, DoesNotCredit_WhenNewLeadUsesItsOwnCode) {
    // The lead about to be created gets id 100; its own code cannot credit itself.
    run({delivery("u1", {command("555", "start", "ref_" + referral_code(LeadId{kFirstId}))})});
    const auto leads = tx_.collect(&WriteSet::new_leads);
    ASSERT_EQ(leads.size(), 1u);
    EXPECT_EQ(leads[0].id, LeadId{kFirstId});
    EXPECT_EQ(leads[0].source_kind, "inbound");
    EXPECT_FALSE(leads[0].referred_by);
    EXPECT_TRUE(events_of(tx_, "referral_credited").empty());
    for (const auto& u : tx_.collect(&WriteSet::lead_updates)) EXPECT_EQ(u.referral_count_delta, 0);
}

TEST_F(IngestTest, DoesNotCredit_WhenKnownLeadUsesItsOwnCode) {
    known(7, "555");
    run({delivery("u1", {command("555", "start", "ref_" + referral_code(LeadId{7}))})});
    EXPECT_TRUE(events_of(tx_, "referral_credited").empty());
    for (const auto& u : tx_.collect(&WriteSet::lead_updates)) EXPECT_EQ(u.referral_count_delta, 0);
    EXPECT_EQ(tx_.lead(7).referral_count, 0);
}

TEST_F(IngestTest, DoesNotCredit_WhenCodeIsUnknownOrInvalid) {
    run({delivery("u1", {command("555", "start", "ref_" + referral_code(LeadId{999}))}),
         delivery("u2", {command("666", "start", "ref_u0000000")})});
    const auto leads = tx_.collect(&WriteSet::new_leads);
    ASSERT_EQ(leads.size(), 2u);
    for (const auto& l : leads) {
        EXPECT_EQ(l.source_kind, "inbound");
        EXPECT_FALSE(l.referred_by);
    }
    EXPECT_TRUE(events_of(tx_, "referral_credited").empty());
}

// ---- /start, /stop and replies ----------------------------------------------------------------

TEST_F(IngestTest, RepliesWelcomeWithButtons_WhenStartInPrivateChat) {
    const auto results = run({delivery("u1", {command("555", "start")})});
    ASSERT_EQ(results[0].replies.size(), 1u);
    const OutboundMessage& m = results[0].replies[0];
    EXPECT_EQ(m.kind, OutboundKind::kText);
    EXPECT_EQ(m.channel_id, "tg");
    EXPECT_EQ(m.chat_id, "555");
    EXPECT_EQ(m.lead_id, LeadId{kFirstId});
    EXPECT_EQ(m.text, "Hi Ann!");
    ASSERT_EQ(m.buttons.size(), 1u);
    ASSERT_EQ(m.buttons[0].size(), 2u);
    EXPECT_EQ(m.buttons[0][1].data, "menu:demo");
    EXPECT_EQ(m.idem_key, "in:tg:u1:0:welcome");
    EXPECT_FALSE(m.is_group);
    EXPECT_FALSE(m.passive);

    // The same message is queued in the outbox.
    const auto outbox = tx_.collect(&WriteSet::outbox);
    ASSERT_EQ(outbox.size(), 1u);
    EXPECT_EQ(outbox[0].idem_key, "in:tg:u1:0:welcome");
    EXPECT_EQ(outbox[0].chat_id, "555");
    EXPECT_EQ(outbox[0].lead_id, LeadId{kFirstId});
    EXPECT_EQ(outbox[0].kind, "text");
    EXPECT_EQ(outbox[0].status, "pending");
    EXPECT_EQ(outbox[0].due_at, kNow);
    const auto body = outbound_from_json(outbox[0].body);
    ASSERT_TRUE(body.has_value());
    EXPECT_EQ(body->text, "Hi Ann!");
}

TEST_F(IngestTest, RepliesInUsersLocale_WhenLanguageIsZhHans) {
    auto e = command("555", "start");
    e.user.language = "zh-hans";
    const auto results = run({delivery("u1", {e})});
    ASSERT_EQ(results[0].replies.size(), 1u);
    EXPECT_EQ(results[0].replies[0].text, "你好 Ann！");
}

TEST_F(IngestTest, DoesNotReplyWelcome_WhenStartInGroup) {
    const auto results = run({delivery("u1", {in_group(command("555", "start"), InboundKind::kCommand)})});
    EXPECT_TRUE(results[0].replies.empty());
    EXPECT_EQ(events_of(tx_, "command").size(), 1u);
}

TEST_F(IngestTest, RecordsButDoesNotAnswer_WhenStartIsEdited) {
    auto e = command("555", "start", "src_expo");
    e.edited = true;
    const auto results = run({delivery("u1", {e})});
    EXPECT_TRUE(results[0].replies.empty());
    EXPECT_TRUE(tx_.collect(&WriteSet::outbox).empty());
    const auto ev = events_of(tx_, "command");
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_TRUE(data_of(ev[0]).at("edited").get<bool>());
    EXPECT_EQ(data_of(ev[0]).at("command").get<std::string>(), "start");
    const auto leads = tx_.collect(&WriteSet::new_leads);
    ASSERT_EQ(leads.size(), 1u);
    EXPECT_EQ(leads[0].source_kind, "inbound") << "an edited /start carries no attribution";
}

TEST_F(IngestTest, OptsOutWithOneReply_WhenStopCommand) {
    const auto results = run({delivery("u1", {command("555", "stop")})});
    ASSERT_EQ(results[0].replies.size(), 1u);
    EXPECT_EQ(results[0].replies[0].text, "You are unsubscribed.");
    EXPECT_EQ(results[0].replies[0].idem_key, "in:tg:u1:0:unsubscribed");
    const auto ev = events_of(tx_, "opted_out");
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(data_of(ev[0]), json::parse(R"({"via":"command"})"));
    const auto ups = updates_of(tx_, kFirstId);
    ASSERT_EQ(ups.size(), 1u);
    EXPECT_EQ(ups[0].opted_out, std::optional<bool>(true));
    EXPECT_TRUE(tx_.lead(kFirstId).opted_out);
}

TEST_F(IngestTest, OptsOutInUsersLocale_WhenTextIsTuiDing) {
    known(7, "555", "zh-CN");
    auto e = text("555", " 退订 ");
    e.user.language = "";  // the platform did not say: the stored language stands
    const auto results = run({delivery("u1", {e})});
    ASSERT_EQ(results[0].replies.size(), 1u);
    EXPECT_EQ(results[0].replies[0].text, "已退订");
    const auto ev = events_of(tx_, "opted_out");
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(data_of(ev[0]), json::parse(R"({"via":"text"})"));
    EXPECT_TRUE(tx_.lead(7).opted_out);
}

TEST_F(IngestTest, RepliesOnce_WhenStopSentTwiceInOneBatch) {
    const auto results = run({delivery("u1", {command("555", "stop")}), delivery("u2", {text("555", "STOP")})});
    EXPECT_EQ(results[0].replies.size(), 1u);
    EXPECT_TRUE(results[1].replies.empty());
    EXPECT_EQ(events_of(tx_, "opted_out").size(), 1u);
}

TEST_F(IngestTest, SendsNoReply_WhenAlreadyOptedOutLeadStopsAgain) {
    known(7, "555").opted_out = true;
    const auto results = run({delivery("u1", {command("555", "stop")}), delivery("u2", {text("555", "unsubscribe")})});
    EXPECT_TRUE(results[0].replies.empty());
    EXPECT_TRUE(results[1].replies.empty());
    EXPECT_TRUE(events_of(tx_, "opted_out").empty());
    for (const auto& u : updates_of(tx_, 7)) EXPECT_FALSE(u.opted_out.has_value());
}

TEST_F(IngestTest, OptsBackInWithResubscribedReply_WhenOptedOutLeadStarts) {
    known(7, "555").opted_out = true;
    const auto results = run({delivery("u1", {command("555", "start")})});
    ASSERT_EQ(results[0].replies.size(), 1u);
    EXPECT_EQ(results[0].replies[0].text, "Welcome back, Ann!");
    const auto ev = events_of(tx_, "opted_in");
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(data_of(ev[0]), json::parse(R"({"via":"command"})"));
    EXPECT_FALSE(tx_.lead(7).opted_out);
}

TEST_F(IngestTest, DoesNotOptOut_WhenStopIsPartOfASentence) {
    const auto results = run({delivery("u1", {text("555", "please don't stop")})});
    EXPECT_TRUE(results[0].replies.empty());
    EXPECT_TRUE(events_of(tx_, "opted_out").empty());
}

TEST_F(IngestTest, RepliesHelp_WhenHelpCommand) {
    const auto results = run({delivery("u1", {command("555", "help")})});
    ASSERT_EQ(results[0].replies.size(), 1u);
    EXPECT_EQ(results[0].replies[0].text, "Commands: /start /stop");
}

// ---- buttons ----------------------------------------------------------------------------------

TEST_F(IngestTest, AnswersCallbackAndRepliesTemplate_WhenButtonHasTemplate) {
    const auto results = run({delivery("u1", {button("555", "menu:pricing", "cbq-1")})});
    ASSERT_EQ(results[0].replies.size(), 2u);
    const auto& ack = results[0].replies[0];
    EXPECT_EQ(ack.kind, OutboundKind::kCallbackAnswer);
    EXPECT_EQ(ack.reply_token, "cbq-1");
    EXPECT_EQ(ack.text, "");
    EXPECT_EQ(ack.idem_key, "in:tg:u1:0:ack");
    const auto& msg = results[0].replies[1];
    EXPECT_EQ(msg.kind, OutboundKind::kText);
    EXPECT_EQ(msg.text, "Our prices, Ann");
    EXPECT_EQ(msg.chat_id, "555");

    const auto outbox = tx_.collect(&WriteSet::outbox);
    ASSERT_EQ(outbox.size(), 2u);
    EXPECT_EQ(outbox[0].kind, "callback_answer");
    const auto ev = events_of(tx_, "button_press");
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(data_of(ev[0]).at("data").get<std::string>(), "menu:pricing");
}

TEST_F(IngestTest, OnlyAnswersCallback_WhenButtonHasNoTemplate) {
    const auto results = run({delivery("u1", {button("555", "menu:demo", "cbq-2")})});
    ASSERT_EQ(results[0].replies.size(), 1u);
    EXPECT_EQ(results[0].replies[0].kind, OutboundKind::kCallbackAnswer);
    EXPECT_EQ(results[0].replies[0].reply_token, "cbq-2");
}

TEST_F(IngestTest, RepliesButtonTemplateInUsersLocale_WhenLeadSpeaksChinese) {
    known(7, "555", "zh-CN");
    auto e = button("555", "menu:pricing", "cbq-3");
    e.user.language = "";
    const auto results = run({delivery("u1", {e})});
    ASSERT_EQ(results[0].replies.size(), 2u);
    EXPECT_EQ(results[0].replies[1].text, "价格如下");
}

TEST_F(IngestTest, RepliesButtonTemplateFromEnglish_WhenTheUsersLocaleLacksIt) {
    known(7, "555", "zh-CN");
    std::vector<TemplateProblem> problems;
    templates_.add_locale("en", R"({"button.menu:trial": "Your trial starts now"})", "extra.json", problems);
    ASSERT_TRUE(problems.empty());
    const auto results = run({delivery("u1", {button("555", "menu:trial", "cbq-4")})});
    ASSERT_EQ(results[0].replies.size(), 2u);  // the callback answer, then the English text
    EXPECT_EQ(results[0].replies[1].text, "Your trial starts now");
}

// ---- contacts ---------------------------------------------------------------------------------

TEST_F(IngestTest, SetsVerifiedPhone_WhenUserSharesOwnContact) {
    auto e = private_event(InboundKind::kContactShared, "555");
    e.contact.phone = "+8613800000000";
    e.contact.user_id = "555";
    run({delivery("u1", {e})});
    const auto ups = updates_of(tx_, kFirstId);
    ASSERT_EQ(ups.size(), 1u);
    EXPECT_EQ(ups[0].phone, std::optional<std::string>("+8613800000000"));
    EXPECT_EQ(ups[0].phone_verified, std::optional<bool>(true));
    EXPECT_EQ(tx_.lead(kFirstId).phone, "+8613800000000");
    EXPECT_EQ(events_of(tx_, "contact_shared").size(), 1u);
}

TEST_F(IngestTest, LeavesPhoneAlone_WhenContactOfAnotherUserIsForwarded) {
    auto e = private_event(InboundKind::kContactShared, "555");
    e.contact.phone = "+8613911111111";
    e.contact.user_id = "777";
    run({delivery("u1", {e})});
    for (const auto& u : tx_.collect(&WriteSet::lead_updates)) {
        EXPECT_FALSE(u.phone.has_value());
        EXPECT_FALSE(u.phone_verified.has_value());
    }
    EXPECT_EQ(tx_.lead(kFirstId).phone, "");
    EXPECT_EQ(events_of(tx_, "contact_shared").size(), 1u) << "still recorded as an event";
}

// The comment in ingest.cpp: "Only a person's own number counts as theirs; a forwarded card is just
// a message." A card of someone who is not on the platform has no user_id at all.
TEST_F(IngestTest, LeavesPhoneAlone_WhenContactCardHasNoUserId) {
    auto e = private_event(InboundKind::kContactShared, "555");
    e.contact.phone = "+8613922222222";
    e.contact.first_name = "Friend";
    run({delivery("u1", {e})});
    for (const auto& u : tx_.collect(&WriteSet::lead_updates)) EXPECT_FALSE(u.phone.has_value());
}

// ---- groups and reachability ------------------------------------------------------------------

TEST_F(IngestTest, WritesMembershipAndChat_WhenMemberJoinsAndLeaves) {
    const auto joined = in_group(private_event(InboundKind::kMessage, "555"), InboundKind::kMemberJoined);
    const auto left = in_group(private_event(InboundKind::kMessage, "555"), InboundKind::kMemberLeft);
    const auto results = run({delivery("u1", {joined}), delivery("u2", {left})});
    EXPECT_TRUE(results[0].replies.empty());
    EXPECT_TRUE(results[1].replies.empty());

    const auto members = tx_.collect(&WriteSet::memberships);
    ASSERT_EQ(members.size(), 2u);
    EXPECT_EQ(members[0].channel_id, "tg");
    EXPECT_EQ(members[0].chat_id, "-100");
    EXPECT_EQ(members[0].lead_id, LeadId{kFirstId});
    EXPECT_TRUE(members[0].member);
    EXPECT_FALSE(members[1].member);
    EXPECT_EQ(members[1].lead_id, LeadId{kFirstId});

    const auto chats = tx_.collect(&WriteSet::chats);
    ASSERT_EQ(chats.size(), 2u);
    EXPECT_EQ(chats[0].chat_id, "-100");
    EXPECT_EQ(chats[0].type, "group");
    EXPECT_EQ(chats[0].title, "Community");
    EXPECT_FALSE(chats[0].bot_member.has_value());

    EXPECT_EQ(events_of(tx_, "member_joined").size(), 1u);
    EXPECT_EQ(events_of(tx_, "member_left").size(), 1u);
    EXPECT_EQ(data_of(events_of(tx_, "member_joined")[0]).at("chat"),
              json::parse(R"({"id":"-100","type":"group","title":"Community"})"));
}

TEST_F(IngestTest, MarksBotMembership_WhenBotAddedOrRemoved) {
    const auto added = in_group(private_event(InboundKind::kMessage, "555"), InboundKind::kBotAdded);
    const auto removed = in_group(private_event(InboundKind::kMessage, "555"), InboundKind::kBotRemoved);
    run({delivery("u1", {added}), delivery("u2", {removed})});
    const auto chats = tx_.collect(&WriteSet::chats);
    ASSERT_EQ(chats.size(), 2u);
    EXPECT_EQ(chats[0].bot_member, std::optional<bool>(true));
    EXPECT_EQ(chats[1].bot_member, std::optional<bool>(false));
    EXPECT_TRUE(tx_.collect(&WriteSet::memberships).empty());
}

TEST_F(IngestTest, TogglesIdentityUnreachable_WhenUserBlocksThenFollows) {
    known(7, "555");
    run({delivery("u1", {private_event(InboundKind::kUserBlockedBot, "555")})});
    ASSERT_EQ(tx_.applied.size(), 1u);
    ASSERT_EQ(tx_.applied[0].identity_updates.size(), 1u);
    EXPECT_EQ(tx_.applied[0].identity_updates[0].key, (IdentityKey{"tg", "555"}));
    EXPECT_EQ(tx_.applied[0].identity_updates[0].unreachable, std::optional<bool>(true));
    EXPECT_TRUE(tx_.identities.at({"tg", "555"}).unreachable);
    EXPECT_TRUE(tx_.lead(7).unreachable);

    // Blocking again changes nothing.
    run({delivery("u2", {private_event(InboundKind::kUserBlockedBot, "555")})});
    ASSERT_EQ(tx_.applied.size(), 2u);
    EXPECT_TRUE(tx_.applied[1].identity_updates.empty());

    // Coming back (follow) makes it reachable and is welcomed.
    const auto results = run({delivery("u3", {private_event(InboundKind::kFollow, "555")})});
    ASSERT_EQ(tx_.applied.size(), 3u);
    ASSERT_EQ(tx_.applied[2].identity_updates.size(), 1u);
    EXPECT_EQ(tx_.applied[2].identity_updates[0].unreachable, std::optional<bool>(false));
    EXPECT_FALSE(tx_.lead(7).unreachable);
    ASSERT_EQ(results[0].replies.size(), 1u);
    EXPECT_EQ(results[0].replies[0].text, "Hi Ann!");
}

TEST_F(IngestTest, TogglesIdentityUnreachable_WhenUnfollowThenUnblock) {
    known(7, "555");
    run({delivery("u1", {private_event(InboundKind::kUnfollow, "555")})});
    EXPECT_TRUE(tx_.identities.at({"tg", "555"}).unreachable);
    const auto results = run({delivery("u2", {private_event(InboundKind::kUserUnblockedBot, "555")})});
    EXPECT_FALSE(tx_.identities.at({"tg", "555"}).unreachable);
    EXPECT_TRUE(results[0].replies.empty()) << "unblocking is not a follow: no welcome";
}

TEST_F(IngestTest, DoesNotWelcomeAgain_WhenReachableFollowerFollows) {
    known(7, "555");
    const auto results = run({delivery("u1", {private_event(InboundKind::kFollow, "555")})});
    EXPECT_TRUE(results[0].replies.empty());
    EXPECT_TRUE(tx_.applied.at(0).identity_updates.empty());
}

TEST_F(IngestTest, IgnoresBotsAndAnonymousSubjects_ButStillRecordsChat) {
    auto bot = in_group(private_event(InboundKind::kMessage, "999"), InboundKind::kMemberJoined);
    bot.user.is_bot = true;
    auto nobody = in_group(private_event(InboundKind::kMessage, ""), InboundKind::kBotAdded);
    run({delivery("u1", {bot, nobody})});
    ASSERT_EQ(tx_.applied.size(), 1u);
    EXPECT_TRUE(tx_.applied[0].new_leads.empty());
    EXPECT_TRUE(tx_.applied[0].memberships.empty());
    EXPECT_EQ(tx_.applied[0].chats.size(), 2u);
}

// ---- with a LeadService: status and scoring ---------------------------------------------------

class ScoredIngestTest : public IngestTest {
   protected:
    static ScoringConfig scoring_config() {
        std::vector<TemplateProblem> problems;
        auto parsed = parse_scoring(kScoring, "scoring.json", problems);
        EXPECT_TRUE(parsed) << describe(problems);
        return parsed ? *parsed : ScoringConfig{};
    }

    std::vector<IngestResult> run_scored(const std::vector<InboundDelivery>& deliveries) {
        return run(deliveries, &service_);
    }

    Funnel funnel_{default_funnel()};
    ScoringEngine scoring_{scoring_config()};
    SegmentsConfig segments_{default_segments()};
    LeadService service_{funnel_, scoring_, segments_};
};

TEST_F(ScoredIngestTest, MakesLeadEngaged_WhenFirstInteraction) {
    run_scored({delivery("u1", {text("555", "hello")})});
    const auto lead = tx_.collect(&WriteSet::new_leads).at(0);
    EXPECT_EQ(lead.stage, "opportunity");
    const auto ev = events_of(tx_, "status_changed");
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(ev[0].actor, "user");
    EXPECT_EQ(ev[0].occurred_at, kAt);
    EXPECT_EQ(data_of(ev[0]), json::parse(R"({"from":"new","to":"engaged","reason":"first interaction"})"));
    EXPECT_EQ(tx_.lead(kFirstId).status, "engaged");
    EXPECT_TRUE(events_of(tx_, "score_changed").empty()) << "no rule matched";

    // A second message later: already engaged, no new status event.
    run_scored({delivery("u2", {text("555", "hello again")})});
    EXPECT_EQ(events_of(tx_, "status_changed").size(), 1u);
}

TEST_F(ScoredIngestTest, DoesNotEngage_WhenEventIsNotAnInteraction) {
    known(7, "555");
    run_scored({delivery("u1", {private_event(InboundKind::kUserBlockedBot, "555")})});
    EXPECT_TRUE(events_of(tx_, "status_changed").empty());
    EXPECT_EQ(tx_.lead(7).status, "new");
}

TEST_F(ScoredIngestTest, AwardsPointsWithEventAndEntry_WhenKeywordRuleMatches) {
    run_scored({delivery("u1", {text("555", "What is the PRICE?")})});
    const auto entries = tx_.collect(&WriteSet::score_entries);
    ASSERT_EQ(entries.size(), 1u);
    EXPECT_EQ(entries[0].lead_id, LeadId{kFirstId});
    EXPECT_EQ(entries[0].rule_id, "pricing");
    EXPECT_EQ(entries[0].points, 25);
    EXPECT_TRUE(entries[0].behavioral);
    EXPECT_EQ(entries[0].at, kAt);
    EXPECT_FALSE(entries[0].reason.empty());

    const auto ev = events_of(tx_, "score_changed");
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(ev[0].actor, "rule:pricing");
    const auto d = data_of(ev[0]);
    EXPECT_EQ(d.at("from").get<std::int64_t>(), 0);
    EXPECT_EQ(d.at("to").get<std::int64_t>(), 25);
    EXPECT_EQ(d.at("grade_to").get<std::string>(), "cold");

    const auto totals = tx_.collect(&WriteSet::rule_totals);
    ASSERT_EQ(totals.size(), 1u);
    EXPECT_EQ(totals[0].rule_id, "pricing");
    EXPECT_EQ(totals[0].total, 25);
    EXPECT_EQ(tx_.lead(kFirstId).score, 25);
}

TEST_F(ScoredIngestTest, MovesToMqlOnce_WhenScoreCrossesThreshold) {
    // 25 (engaged), 50 (>= mql 40), 75 (< sql 80): one move to mql, in the batch that crosses.
    run_scored({delivery("u1", {text("555", "demo?")}), delivery("u2", {text("555", "a demo please")})});
    auto status = events_of(tx_, "status_changed");
    ASSERT_EQ(status.size(), 2u);
    EXPECT_EQ(data_of(status[1]).at("from").get<std::string>(), "engaged");
    EXPECT_EQ(data_of(status[1]).at("to").get<std::string>(), "mql");
    EXPECT_EQ(status[1].actor, "user");
    EXPECT_EQ(tx_.lead(kFirstId).status, "mql");
    EXPECT_EQ(tx_.lead(kFirstId).score, 50);
    EXPECT_EQ(tx_.lead(kFirstId).grade, "warm");

    run_scored({delivery("u3", {text("555", "demo demo")})});
    EXPECT_EQ(events_of(tx_, "status_changed").size(), 2u) << "already mql";
    EXPECT_EQ(tx_.lead(kFirstId).score, 75);
    EXPECT_EQ(tx_.lead(kFirstId).grade, "hot");
    EXPECT_EQ(tx_.lead(kFirstId).lifecycle, "development");
}

TEST_F(ScoredIngestTest, HoldsRuleCap_AcrossBatches) {
    // "price" is worth 25 with a cap of 30: 25, then 5, then nothing, each in its own batch.
    run_scored({delivery("u1", {text("555", "price?")})});
    run_scored({delivery("u2", {text("555", "price again")})});
    run_scored({delivery("u3", {text("555", "price, once more")})});

    const auto entries = tx_.collect(&WriteSet::score_entries);
    ASSERT_EQ(entries.size(), 2u);
    EXPECT_EQ(entries[0].points, 25);
    EXPECT_EQ(entries[1].points, 5);
    EXPECT_EQ(events_of(tx_, "score_changed").size(), 2u);
    EXPECT_EQ(tx_.lead(kFirstId).score, 30);
    EXPECT_EQ(tx_.totals.at({kFirstId, "pricing"}).total, 30);
    ASSERT_EQ(tx_.applied.size(), 3u);
    EXPECT_TRUE(tx_.applied[2].score_entries.empty());
    EXPECT_TRUE(tx_.applied[2].rule_totals.empty()) << "an unchanged total is not rewritten";
}

TEST_F(ScoredIngestTest, HoldsRuleCap_WithinOneBatch) {
    run_scored({delivery("u1", {text("555", "price?"), text("555", "price!"), text("555", "价格")})});
    const auto entries = tx_.collect(&WriteSet::score_entries);
    ASSERT_EQ(entries.size(), 2u);
    EXPECT_EQ(entries[0].points + entries[1].points, 30);
    const auto totals = tx_.collect(&WriteSet::rule_totals);
    ASSERT_EQ(totals.size(), 1u);
    EXPECT_EQ(totals[0].total, 30);
}

TEST_F(ScoredIngestTest, ReadsStoredTotals_ForKnownLead) {
    known(7, "555");
    tx_.totals[{7, "pricing"}] = RuleTotal{"pricing", 30, Timestamp{}, 0};
    run_scored({delivery("u1", {text("555", "price")})});
    EXPECT_TRUE(tx_.collect(&WriteSet::score_entries).empty()) << "the cap was reached before this batch";
}

TEST_F(ScoredIngestTest, AwardsButtonRule_WhenButtonPressed) {
    run_scored({delivery("u1", {button("555", "menu:pricing", "cbq")})});
    const auto entries = tx_.collect(&WriteSet::score_entries);
    ASSERT_EQ(entries.size(), 1u);
    EXPECT_EQ(entries[0].rule_id, "pricing_button");
    EXPECT_EQ(entries[0].points, 5);
}

TEST_F(ScoredIngestTest, MergesIntoOlderLead_WhenSharedPhoneIsAlreadyVerified) {
    auto& older = known(7, "111");
    older.phone = "+8613800000000";
    older.phone_verified = true;
    auto e = private_event(InboundKind::kContactShared, "555");
    e.contact.phone = "+8613800000000";
    e.contact.user_id = "555";
    run_scored({delivery("u1", {e})});
    ASSERT_EQ(tx_.applied.size(), 2u) << "the batch, then the merge";
    const auto& merges = tx_.applied[1].merges;
    ASSERT_EQ(merges.size(), 1u);
    EXPECT_EQ(merges[0].source, LeadId{kFirstId});
    EXPECT_EQ(merges[0].target, LeadId{7});
    EXPECT_EQ(merges[0].reason, "same verified phone");
    EXPECT_EQ(tx_.lead(kFirstId).merged_into, LeadId{7});
}

}  // namespace
}  // namespace leadhatch::core
