// LeadService: admin patches (validation, stage moves, tags, owner, demographic rescoring),
// merges, erasure, status and lifecycle. Pure: each plan is a WriteSet checked row by row.
#include "core/leads/lead_service.hpp"
#include "tests/support/template_files.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <nlohmann/json.hpp>
#include <ostream>
#include <string>
#include <vector>

namespace leadhatch::core {
namespace {

using testing::describe;

using nlohmann::json;
using std::chrono::hours;

const Timestamp kT0 = from_epoch_ms(1'700'000'000'000);
const Timestamp kNow = kT0 + hours{24 * 10};
const Actor kOps{"api:ops"};

// No decay, so scores are exact: a company of 500+ is worth 20, an email 5.
constexpr const char* kScoring = R"({
  "decay": { "behavioral_half_life_days": 0 },
  "grades": { "hot": 60, "warm": 30 },
  "thresholds": { "mql": 40, "sql": 80 },
  "rules": [
    { "id": "big_company", "kind": "field", "field": "company_size", "range": [500, null], "points": 20 },
    { "id": "has_email", "kind": "field", "field": "email", "present": true, "points": 5 },
    { "id": "pricing", "kind": "keyword", "keywords": ["price"], "points": 10 }
  ]
})";

ScoringConfig scoring_config() {
    std::vector<TemplateProblem> problems;
    auto parsed = parse_scoring(kScoring, "scoring.json", problems);
    EXPECT_TRUE(parsed) << describe(problems);
    return parsed ? *parsed : ScoringConfig{};
}

LeadRecord make_lead(std::int64_t id = 7) {
    LeadRecord r;
    r.id = LeadId{id};
    r.display_name = "Ann";
    r.stage = "opportunity";
    r.status = "new";
    r.lifecycle = "acquisition";
    r.segment = "unknown";
    r.grade = "cold";
    r.created_at = kT0;
    r.updated_at = kT0;
    r.stage_changed_at = kT0;
    return r;
}

std::vector<const EventRow*> events_of(const WriteSet& w, const std::string& kind) {
    std::vector<const EventRow*> out;
    for (const auto& e : w.events) {
        if (e.kind == kind) out.push_back(&e);
    }
    return out;
}

json data_of(const EventRow& e) { return json::parse(e.data); }

class LeadServiceTest : public ::testing::Test {
   protected:
    Funnel funnel_{default_funnel()};
    ScoringEngine scoring_{scoring_config()};
    SegmentsConfig segments_{default_segments()};
    LeadService svc_{funnel_, scoring_, segments_};

    LeadChange patch_ok(const LeadRecord& current, const LeadPatch& p) {
        auto r = svc_.plan_patch(current, p, kOps, kNow);
        EXPECT_TRUE(r.has_value()) << (r ? "" : r.error().code + " " + r.error().field + ": " + r.error().message);
        return r ? *r : LeadChange{};
    }
};

// ---- status and lifecycle ---------------------------------------------------------------------

TEST(StatusRank, OrdersStatuses_NewToAdvocate) {
    EXPECT_EQ(status_rank("new"), 0);
    EXPECT_EQ(status_rank("engaged"), 1);
    EXPECT_EQ(status_rank("mql"), 2);
    EXPECT_EQ(status_rank("sql"), 3);
    EXPECT_EQ(status_rank("customer"), 4);
    EXPECT_EQ(status_rank("advocate"), 5);
    EXPECT_EQ(status_rank(""), -1);
    EXPECT_EQ(status_rank("NEW"), -1);
    EXPECT_EQ(status_rank("vip"), -1);
    EXPECT_TRUE(valid_status("sql"));
    EXPECT_FALSE(valid_status("lead"));
}

struct LifecycleCase {
    const char* stage;
    const char* status;
    const char* expected;
};

void PrintTo(const LifecycleCase& c, std::ostream* os) { *os << (*c.stage ? c.stage : "none") << "_" << c.status; }

class LifecycleFor : public ::testing::TestWithParam<LifecycleCase> {};

TEST_P(LifecycleFor, DerivesLifecycle_FromStageAndStatus) {
    const auto& c = GetParam();
    EXPECT_EQ(lifecycle_for(c.stage, c.status), c.expected) << c.stage << " / " << c.status;
}

INSTANTIATE_TEST_SUITE_P(
    Cases, LifecycleFor,
    ::testing::Values(
        LifecycleCase{"opportunity", "new", "acquisition"}, LifecycleCase{"opportunity", "engaged", "acquisition"},
        LifecycleCase{"", "new", "acquisition"}, LifecycleCase{"opportunity", "mql", "development"},
        LifecycleCase{"opportunity", "sql", "development"}, LifecycleCase{"identified", "new", "development"},
        LifecycleCase{"contract", "engaged", "development"}, LifecycleCase{"won", "new", "retention"},
        LifecycleCase{"opportunity", "customer", "retention"}, LifecycleCase{"demo", "advocate", "retention"},
        LifecycleCase{"lost", "customer", "lost"}, LifecycleCase{"lost", "new", "lost"}));

TEST_F(LeadServiceTest, AdvanceStatus_MovesForwardOnlyWithEvent) {
    LeadRecord lead = make_lead();
    lead.status = "mql";
    WriteSet w;
    LeadUpdate u;
    svc_.advance_status(lead, "engaged", "x", kOps, "tg", kNow, w, u);
    EXPECT_EQ(lead.status, "mql");
    EXPECT_TRUE(w.events.empty());
    EXPECT_FALSE(u.status.has_value());

    svc_.advance_status(lead, "sql", "call booked", kOps, "tg", kNow, w, u);
    EXPECT_EQ(lead.status, "sql");
    EXPECT_EQ(u.status, std::optional<std::string>("sql"));
    EXPECT_EQ(u.lifecycle, std::optional<std::string>("development"));
    ASSERT_EQ(w.events.size(), 1u);
    EXPECT_EQ(w.events[0].kind, "status_changed");
    EXPECT_EQ(w.events[0].channel_id, "tg");
    const auto d = data_of(w.events[0]);
    EXPECT_EQ(d.at("from").get<std::string>(), "mql");
    EXPECT_EQ(d.at("to").get<std::string>(), "sql");
    EXPECT_EQ(d.at("reason").get<std::string>(), "call booked");
}

// ---- plan_patch: validation -------------------------------------------------------------------

struct RejectCase {
    const char* name;
    std::function<void(LeadRecord&, LeadPatch&)> setup;
    const char* code;
    const char* field;
    const char* message;  // "" = any
};

void PrintTo(const RejectCase& c, std::ostream* os) { *os << c.name; }

class PlanPatchRejects : public LeadServiceTest, public ::testing::WithParamInterface<RejectCase> {};

TEST_P(PlanPatchRejects, ReturnsErrorWithCodeAndField_WhenPatchIsInvalid) {
    const auto& c = GetParam();
    LeadRecord current = make_lead();
    LeadPatch p;
    c.setup(current, p);
    const auto r = svc_.plan_patch(current, p, kOps, kNow);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code, c.code);
    EXPECT_EQ(r.error().field, c.field);
    if (*c.message) {
        EXPECT_EQ(r.error().message, c.message);
    } else {
        EXPECT_FALSE(r.error().message.empty());
    }
}

INSTANTIATE_TEST_SUITE_P(
    Cases, PlanPatchRejects,
    ::testing::Values(
        RejectCase{"BadEmail", [](LeadRecord&, LeadPatch& p) { p.email = "not-an-email"; }, "invalid", "email", ""},
        RejectCase{"EmailTwoAts", [](LeadRecord&, LeadPatch& p) { p.email = "a@b@c.com"; }, "invalid", "email", ""},
        RejectCase{"BadPhone", [](LeadRecord&, LeadPatch& p) { p.phone = "12ab345"; }, "invalid", "phone", ""},
        RejectCase{"ShortPhone", [](LeadRecord&, LeadPatch& p) { p.phone = "1234"; }, "invalid", "phone", ""},
        RejectCase{"PlusInside", [](LeadRecord&, LeadPatch& p) { p.phone = "86+13800000000"; }, "invalid", "phone", ""},
        RejectCase{"ControlInName", [](LeadRecord&, LeadPatch& p) { p.display_name = "a\x01z"; }, "invalid",
                   "display_name", ""},
        RejectCase{"LongCompany", [](LeadRecord&, LeadPatch& p) { p.company = std::string(256, 'x'); }, "invalid",
                   "company", ""},
        RejectCase{"LongRegion", [](LeadRecord&, LeadPatch& p) { p.region = std::string(129, 'x'); }, "invalid",
                   "region", ""},
        RejectCase{"NulInNotes", [](LeadRecord&, LeadPatch& p) { p.notes = std::string("a\0b", 3); }, "invalid",
                   "notes", ""},
        RejectCase{"NegativeCompanySize",
                   [](LeadRecord&, LeadPatch& p) { p.company_size = std::optional<std::int64_t>(-1); }, "invalid",
                   "company_size", ""},
        RejectCase{"CustomFieldsArray", [](LeadRecord&, LeadPatch& p) { p.custom_fields = "[1]"; }, "invalid",
                   "custom_fields", ""},
        RejectCase{"CustomFieldsNotJson", [](LeadRecord&, LeadPatch& p) { p.custom_fields = "{"; }, "invalid",
                   "custom_fields", ""},
        RejectCase{"NegativeDeal", [](LeadRecord&, LeadPatch& p) { p.deal_value = std::optional<std::int64_t>(-5); },
                   "invalid", "deal_value", ""},
        RejectCase{"LowerCaseCurrency", [](LeadRecord&, LeadPatch& p) { p.currency = "usd"; }, "invalid", "currency",
                   ""},
        RejectCase{"PhoneVerifiedWithoutPhone", [](LeadRecord&, LeadPatch& p) { p.phone_verified = true; }, "invalid",
                   "phone_verified", ""},
        RejectCase{"EmailVerifiedWithoutEmail", [](LeadRecord&, LeadPatch& p) { p.email_verified = true; }, "invalid",
                   "email_verified", ""},
        RejectCase{"EmptyTag", [](LeadRecord&, LeadPatch& p) { p.tags = std::vector<std::string>{"ok", ""}; },
                   "invalid", "tags", ""},
        RejectCase{"LongTag", [](LeadRecord&, LeadPatch& p) { p.tags = std::vector<std::string>{std::string(65, 't')}; },
                   "invalid", "tags", ""},
        RejectCase{"ControlInAddedTag", [](LeadRecord&, LeadPatch& p) { p.add_tags = {"a\tb"}; }, "invalid",
                   "add_tags", ""},
        RejectCase{"TooManyTags",
                   [](LeadRecord&, LeadPatch& p) {
                       for (int i = 0; i < 101; ++i) p.add_tags.push_back(std::to_string(i).insert(0, 1, 't'));
                   },
                   "invalid", "tags", ""},
        RejectCase{"UnknownStage", [](LeadRecord&, LeadPatch& p) { p.stage = "nope"; }, "invalid", "stage",
                   "unknown stage 'nope'"},
        RejectCase{"UnknownStatus", [](LeadRecord&, LeadPatch& p) { p.status = "vip"; }, "invalid", "status", ""},
        RejectCase{"LongReason",
                   [](LeadRecord&, LeadPatch& p) {
                       p.stage = "lost";
                       p.reason = std::string(256, 'r');
                   },
                   "invalid", "reason", ""},
        // Conflicts: impossible moves, with the funnel's why.
        RejectCase{"LostWithoutReason", [](LeadRecord&, LeadPatch& p) { p.stage = "lost"; }, "conflict", "stage",
                   "lost needs a reason"},
        RejectCase{"LostWithBlankReason",
                   [](LeadRecord&, LeadPatch& p) {
                       p.stage = "lost";
                       p.reason = "  ";
                   },
                   "conflict", "stage", "lost needs a reason"},
        RejectCase{"BackwardWithoutReason",
                   [](LeadRecord& l, LeadPatch& p) {
                       l.stage = "demo";
                       p.stage = "identified";
                   },
                   "conflict", "stage", "moving back from demo to identified needs a reason"},
        RejectCase{"OutOfWonToDemo",
                   [](LeadRecord& l, LeadPatch& p) {
                       l.stage = "won";
                       p.stage = "demo";
                       p.reason = "mistake";
                   },
                   "conflict", "stage", "cannot move from won: reopen to opportunity with a reason"},
        RejectCase{"ReopenWithoutReason",
                   [](LeadRecord& l, LeadPatch& p) {
                       l.stage = "lost";
                       p.stage = "opportunity";
                   },
                   "conflict", "stage", "reopening from lost to opportunity needs a reason"},
        RejectCase{"SameStageWithReason",
                   [](LeadRecord&, LeadPatch& p) {
                       p.stage = "opportunity";
                       p.reason = "again";
                   },
                   "conflict", "stage", "already in stage opportunity"},
        RejectCase{"StatusBackward",
                   [](LeadRecord& l, LeadPatch& p) {
                       l.status = "mql";
                       p.status = "engaged";
                   },
                   "conflict", "status", "status moves forward only (mql -> engaged)"},
        RejectCase{"MergedLead",
                   [](LeadRecord& l, LeadPatch& p) {
                       l.merged_into = LeadId{3};
                       p.display_name = "x";
                   },
                   "conflict", "", "lead was merged into 3"},
        RejectCase{"ErasedLead",
                   [](LeadRecord& l, LeadPatch& p) {
                       l.erased_at = kT0;
                       p.display_name = "x";
                   },
                   "conflict", "", "lead was erased"}),
    [](const ::testing::TestParamInfo<RejectCase>& tpi) { return std::string(tpi.param.name); });

// has_control() in lead_service.cpp exempts '\n' for every field, so the single-line check lets
// newlines through although it rejects '\t' and '\r'.
TEST_F(LeadServiceTest, PlanPatch_RejectsNewline_InSingleLineFields) {
    const auto current = make_lead();
    for (auto set : std::vector<std::function<void(LeadPatch&)>>{
             [](LeadPatch& p) { p.display_name = "Ann\nAdmin"; }, [](LeadPatch& p) { p.company = "A\nB"; },
             [](LeadPatch& p) { p.owner = "bob\nalice"; }, [](LeadPatch& p) { p.add_tags = {"vip\nx"}; }}) {
        LeadPatch p;
        set(p);
        const auto r = svc_.plan_patch(current, p, kOps, kNow);
        EXPECT_FALSE(r.has_value());
        if (!r) {
            EXPECT_EQ(r.error().code, "invalid");
        }
    }
}

TEST_F(LeadServiceTest, PlanPatch_AcceptsNewlineInNotes_WhenMultiline) {
    LeadPatch p;
    p.notes = "line 1\nline 2\ttabbed";
    const auto ch = patch_ok(make_lead(), p);
    ASSERT_EQ(ch.writes.lead_updates.size(), 1u);
    EXPECT_EQ(ch.writes.lead_updates[0].notes, std::optional<std::string>("line 1\nline 2\ttabbed"));
}

// ---- plan_patch: stage moves ------------------------------------------------------------------

TEST_F(LeadServiceTest, PlanPatch_WritesStageRowEventAndMaxIndex_WhenMovingForward) {
    LeadPatch p;
    p.stage = "demo";
    const auto ch = patch_ok(make_lead(), p);
    const auto& w = ch.writes;
    EXPECT_TRUE(ch.changed);
    EXPECT_EQ(w.now, kNow);
    ASSERT_EQ(w.stage_changes.size(), 1u);
    EXPECT_EQ(w.stage_changes[0].lead_id, LeadId{7});
    EXPECT_EQ(w.stage_changes[0].to, "demo");
    EXPECT_EQ(w.stage_changes[0].at, kNow);
    EXPECT_EQ(w.stage_changes[0].actor, "api:ops");

    const auto ev = events_of(w, "stage_changed");
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(ev[0]->actor, "api:ops");
    EXPECT_EQ(ev[0]->occurred_at, kNow);
    EXPECT_EQ(data_of(*ev[0]), json::parse(R"({"from":"opportunity","to":"demo","probability":30})"));

    ASSERT_EQ(w.lead_updates.size(), 1u);
    const auto& u = w.lead_updates[0];
    EXPECT_EQ(u.stage, std::optional<std::string>("demo"));
    EXPECT_EQ(u.max_stage_index, std::optional<int>(2));
    EXPECT_EQ(u.lifecycle, std::optional<std::string>("development"));
    EXPECT_FALSE(u.lost_reason.has_value());
    EXPECT_EQ(ch.after.stage, "demo");
    EXPECT_EQ(ch.after.max_stage_index, 2);
    EXPECT_EQ(ch.after.stage_changed_at, kNow);
    EXPECT_EQ(ch.after.updated_at, kNow);
    EXPECT_TRUE(events_of(w, "updated").empty()) << "a stage move is its own event";
}

TEST_F(LeadServiceTest, PlanPatch_KeepsMaxIndex_WhenMovingBackWithReason) {
    LeadRecord current = make_lead();
    current.stage = "negotiation";
    current.max_stage_index = 4;
    current.lifecycle = "development";
    LeadPatch p;
    p.stage = "demo";
    p.reason = "new decision maker";
    const auto ch = patch_ok(current, p);
    ASSERT_EQ(ch.writes.stage_changes.size(), 1u);
    EXPECT_EQ(ch.writes.stage_changes[0].reason, "new decision maker");
    const auto ev = events_of(ch.writes, "stage_changed");
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(data_of(*ev[0]).at("reason").get<std::string>(), "new decision maker");
    ASSERT_EQ(ch.writes.lead_updates.size(), 1u);
    EXPECT_FALSE(ch.writes.lead_updates[0].max_stage_index.has_value());
    EXPECT_EQ(ch.after.max_stage_index, 4);
}

TEST_F(LeadServiceTest, PlanPatch_RecordsLostReasonWithoutMaxIndex_WhenLost) {
    LeadRecord current = make_lead();
    current.stage = "demo";
    current.max_stage_index = 2;
    LeadPatch p;
    p.stage = "lost";
    p.reason = "went with a competitor";
    const auto ch = patch_ok(current, p);
    ASSERT_EQ(ch.writes.lead_updates.size(), 1u);
    const auto& u = ch.writes.lead_updates[0];
    EXPECT_EQ(u.stage, std::optional<std::string>("lost"));
    EXPECT_EQ(u.lost_reason, std::optional<std::string>("went with a competitor"));
    EXPECT_FALSE(u.max_stage_index.has_value()) << "lost is not progress";
    EXPECT_EQ(u.lifecycle, std::optional<std::string>("lost"));
}

TEST_F(LeadServiceTest, PlanPatch_ClearsLostReason_WhenReopened) {
    LeadRecord current = make_lead();
    current.stage = "lost";
    current.lost_reason = "no budget";
    current.lifecycle = "lost";
    LeadPatch p;
    p.stage = "opportunity";
    p.reason = "budget approved";
    const auto ch = patch_ok(current, p);
    ASSERT_EQ(ch.writes.lead_updates.size(), 1u);
    const auto& u = ch.writes.lead_updates[0];
    EXPECT_EQ(u.lost_reason, std::optional<std::string>(""));
    EXPECT_EQ(u.lifecycle, std::optional<std::string>("acquisition"));
    EXPECT_EQ(ch.after.lost_reason, "");
}

TEST_F(LeadServiceTest, PlanPatch_MakesCustomer_WhenWon) {
    LeadRecord current = make_lead();
    current.stage = "contract";
    current.status = "sql";
    current.lifecycle = "development";
    current.max_stage_index = 5;
    LeadPatch p;
    p.stage = "won";
    const auto ch = patch_ok(current, p);
    const auto& w = ch.writes;
    ASSERT_EQ(w.stage_changes.size(), 1u);
    const auto status = events_of(w, "status_changed");
    ASSERT_EQ(status.size(), 1u);
    EXPECT_EQ(data_of(*status[0]), json::parse(R"({"from":"sql","to":"customer","reason":"deal won"})"));
    ASSERT_EQ(w.lead_updates.size(), 1u);
    EXPECT_EQ(w.lead_updates[0].status, std::optional<std::string>("customer"));
    EXPECT_EQ(w.lead_updates[0].max_stage_index, std::optional<int>(6));
    EXPECT_EQ(w.lead_updates[0].lifecycle, std::optional<std::string>("retention"));
    EXPECT_EQ(ch.after.status, "customer");
}

TEST_F(LeadServiceTest, PlanPatch_KeepsAdvocate_WhenWonAgain) {
    LeadRecord current = make_lead();
    current.stage = "lost";
    current.status = "advocate";
    LeadPatch p;
    p.stage = "opportunity";
    p.reason = "reopen";
    auto reopened = patch_ok(current, p).after;
    LeadPatch win;
    win.stage = "won";
    const auto ch = patch_ok(reopened, win);
    EXPECT_TRUE(events_of(ch.writes, "status_changed").empty()) << "status never moves back";
    EXPECT_EQ(ch.after.status, "advocate");
}

TEST_F(LeadServiceTest, PlanPatch_MovesStatusForward_WhenSetManually) {
    LeadRecord current = make_lead();
    current.status = "engaged";
    LeadPatch p;
    p.status = "sql";
    const auto ch = patch_ok(current, p);
    const auto ev = events_of(ch.writes, "status_changed");
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(data_of(*ev[0]).at("reason").get<std::string>(), "set by api:ops");
    ASSERT_EQ(ch.writes.lead_updates.size(), 1u);
    EXPECT_EQ(ch.writes.lead_updates[0].status, std::optional<std::string>("sql"));
    EXPECT_EQ(ch.writes.lead_updates[0].lifecycle, std::optional<std::string>("development"));
}

// ---- plan_patch: tags, owner, fields ----------------------------------------------------------

TEST_F(LeadServiceTest, PlanPatch_WritesTagChangesAndOneEvent_WhenTagsAddedAndRemoved) {
    LeadRecord current = make_lead();
    current.tags = {"a", "b"};
    LeadPatch p;
    p.add_tags = {"c", "b"};
    p.remove_tags = {"a", "zzz"};
    const auto ch = patch_ok(current, p);
    const auto& w = ch.writes;
    ASSERT_EQ(w.tags.size(), 2u);
    EXPECT_EQ(w.tags[0].tag, "c");
    EXPECT_TRUE(w.tags[0].add);
    EXPECT_EQ(w.tags[1].tag, "a");
    EXPECT_FALSE(w.tags[1].add);
    const auto ev = events_of(w, "tags_changed");
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(data_of(*ev[0]), json::parse(R"({"added":["c"],"removed":["a"]})"));
    EXPECT_EQ(ch.after.tags, (std::vector<std::string>{"b", "c"}));
    EXPECT_TRUE(ch.changed);
}

TEST_F(LeadServiceTest, PlanPatch_ReplacesAllTags_WhenTagsGiven) {
    LeadRecord current = make_lead();
    current.tags = {"a", "b"};
    LeadPatch p;
    p.tags = std::vector<std::string>{"b", "x"};
    const auto ch = patch_ok(current, p);
    const auto ev = events_of(ch.writes, "tags_changed");
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(data_of(*ev[0]), json::parse(R"({"added":["x"],"removed":["a"]})"));
    EXPECT_EQ(ch.after.tags, (std::vector<std::string>{"b", "x"}));
}

TEST_F(LeadServiceTest, PlanPatch_WritesNothing_WhenNothingChanges) {
    LeadRecord current = make_lead();
    current.tags = {"a"};
    current.owner = "alice";
    LeadPatch p;
    p.add_tags = {"a"};
    p.owner = "alice";
    p.display_name = "Ann";
    p.stage = "opportunity";
    const auto ch = patch_ok(current, p);
    EXPECT_FALSE(ch.changed);
    EXPECT_TRUE(ch.writes.empty());
    EXPECT_EQ(ch.after.updated_at, kT0);
}

TEST_F(LeadServiceTest, PlanPatch_WritesOwnerChangedEvent_WhenOwnerChanges) {
    LeadRecord current = make_lead();
    current.owner = "bob";
    LeadPatch p;
    p.owner = "alice";
    const auto ch = patch_ok(current, p);
    const auto ev = events_of(ch.writes, "owner_changed");
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(ev[0]->actor, "api:ops");
    EXPECT_EQ(data_of(*ev[0]), json::parse(R"({"from":"bob","to":"alice"})"));
    ASSERT_EQ(ch.writes.lead_updates.size(), 1u);
    EXPECT_EQ(ch.writes.lead_updates[0].owner, std::optional<std::string>("alice"));
    EXPECT_TRUE(events_of(ch.writes, "updated").empty());
}

TEST_F(LeadServiceTest, PlanPatch_ListsChangedFieldsInUpdatedEvent_WhenPlainFieldsChange) {
    LeadPatch p;
    p.display_name = "Ann Lee";
    p.title = "CTO";
    p.notes = "met at expo";
    p.deal_value = std::optional<std::int64_t>(120'000);
    p.currency = "CNY";
    const auto ch = patch_ok(make_lead(), p);
    const auto ev = events_of(ch.writes, "updated");
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(data_of(*ev[0]).at("fields"), json::parse(R"(["display_name","title","notes","deal_value","currency"])"));
    ASSERT_EQ(ch.writes.lead_updates.size(), 1u);
    const auto& u = ch.writes.lead_updates[0];
    EXPECT_EQ(u.display_name, std::optional<std::string>("Ann Lee"));
    EXPECT_EQ(u.deal_value, std::optional<std::optional<std::int64_t>>(120'000));
    EXPECT_EQ(u.currency, std::optional<std::string>("CNY"));
    EXPECT_FALSE(u.segment.has_value()) << "title alone moves no segment";
}

TEST_F(LeadServiceTest, PlanPatch_UnverifiesPhone_WhenNumberChanges) {
    LeadRecord current = make_lead();
    current.phone = "+8613800000000";
    current.phone_verified = true;
    LeadPatch p;
    p.phone = "+8613900000000";
    const auto ch = patch_ok(current, p);
    ASSERT_EQ(ch.writes.lead_updates.size(), 1u);
    EXPECT_EQ(ch.writes.lead_updates[0].phone_verified, std::optional<bool>(false));
    EXPECT_FALSE(ch.after.phone_verified);
}

TEST_F(LeadServiceTest, PlanPatch_ChangesSegmentAndRescores_WhenDemographicFieldChanges) {
    LeadPatch p;
    p.company_size = std::optional<std::int64_t>(600);
    p.email = "ann@example.com";
    const auto ch = patch_ok(make_lead(), p);
    const auto& w = ch.writes;

    const auto seg = events_of(w, "segment_changed");
    ASSERT_EQ(seg.size(), 1u);
    EXPECT_EQ(data_of(*seg[0]), json::parse(R"({"from":"unknown","to":"enterprise"})"));

    const auto score = events_of(w, "score_changed");
    ASSERT_EQ(score.size(), 1u);
    const auto sd = data_of(*score[0]);
    EXPECT_EQ(sd.at("from").get<std::int64_t>(), 0);
    EXPECT_EQ(sd.at("to").get<std::int64_t>(), 25);
    EXPECT_EQ(sd.at("grade_from").get<std::string>(), "cold");
    EXPECT_EQ(sd.at("grade_to").get<std::string>(), "cold");
    EXPECT_TRUE(w.score_entries.empty()) << "demographic points are not behavioural entries";

    ASSERT_EQ(w.lead_updates.size(), 1u);
    const auto& u = w.lead_updates[0];
    EXPECT_EQ(u.segment, std::optional<std::string>("enterprise"));
    EXPECT_EQ(u.demographic_score, std::optional<std::int64_t>(25));
    EXPECT_EQ(u.score, std::optional<std::int64_t>(25));
    EXPECT_EQ(ch.after.segment, "enterprise");
    EXPECT_EQ(ch.after.score, 25);

    const auto updated = events_of(w, "updated");
    ASSERT_EQ(updated.size(), 1u);
    EXPECT_EQ(data_of(*updated[0]).at("fields"), json::parse(R"(["email","company_size"])"));
}

// grade and grade_expires_at are indexed: an update that leaves them as they are must not
// assign them (each assignment rewrites the index entry).
TEST_F(LeadServiceTest, RecordScore_WritesGradeColumnsOnlyWhenTheyChange) {
    LeadRecord lead = make_lead();
    lead.score = 10;
    lead.behavioral_score = 10;
    lead.score_at = kT0;
    const auto expiry = kT0 + hours{5};
    lead.grade_expires_at = expiry;

    ScoreUpdate same{0, 12, kNow, 12, "cold", expiry};
    WriteSet w;
    LeadUpdate u;
    svc_.record_score(lead, same, {}, kOps, "tg", w, u);
    EXPECT_EQ(u.score, std::optional<std::int64_t>(12));
    EXPECT_FALSE(u.grade) << "grade unchanged (cold)";
    EXPECT_FALSE(u.grade_expires_at) << "expiry unchanged";

    ScoreUpdate warmer{0, 35, kNow, 35, "warm", std::nullopt};
    LeadUpdate v;
    svc_.record_score(lead, warmer, {}, kOps, "tg", w, v);
    EXPECT_EQ(v.grade, std::optional<std::string>("warm"));
    ASSERT_TRUE(v.grade_expires_at) << "expiry cleared: assigned as NULL";
    EXPECT_FALSE(*v.grade_expires_at);
    EXPECT_EQ(lead.grade, "warm");
    EXPECT_FALSE(lead.grade_expires_at);
}

TEST_F(LeadServiceTest, PlanPatch_QualifiesLead_WhenDemographicScoreCrossesMql) {
    // 30 behavioural points already; the company size adds 20: 50 >= mql 40.
    LeadRecord current = make_lead();
    current.status = "engaged";
    current.behavioral_score = 30;
    current.score = 30;
    current.grade = "warm";
    current.score_at = kT0;
    LeadPatch p;
    p.company_size = std::optional<std::int64_t>(1000);
    const auto ch = patch_ok(current, p);
    const auto status = events_of(ch.writes, "status_changed");
    ASSERT_EQ(status.size(), 1u);
    EXPECT_EQ(data_of(*status[0]).at("to").get<std::string>(), "mql");
    EXPECT_EQ(ch.after.score, 50);
    EXPECT_EQ(ch.after.status, "mql");
    EXPECT_EQ(ch.after.lifecycle, "development");
}

// ---- plan_merge -------------------------------------------------------------------------------

class PlanMerge : public LeadServiceTest {
   protected:
    LeadRecord source_ = [] {
        LeadRecord s = make_lead(9);
        s.display_name = "Source Name";
        s.username = "src_user";
        s.phone = "+8613800000000";
        s.phone_verified = true;
        s.company = "ACME";
        s.tags = {"b", "c"};
        s.opted_out = true;
        s.referral_count = 2;
        s.status = "mql";
        s.source_kind = "campaign";
        s.created_at = kT0 + hours{5};
        s.identities = {IdentityKey{"tg", "555"}};
        return s;
    }();
    LeadRecord target_ = [] {
        LeadRecord t = make_lead(7);
        t.display_name = "Target";
        t.tags = {"a", "b"};
        t.referral_count = 1;
        t.status = "engaged";
        t.identities = {IdentityKey{"wx", "o_1"}};
        return t;
    }();
};

TEST_F(PlanMerge, FillsMissingFieldsAndUnitesTags_WhenMergingIntoTarget) {
    const auto r = svc_.plan_merge(source_, target_, kOps, "same person", kNow);
    ASSERT_TRUE(r.has_value()) << r.error().message;
    const auto& ch = *r;
    const auto& after = ch.after;
    EXPECT_EQ(after.id, LeadId{7});
    EXPECT_EQ(after.display_name, "Target") << "the target's own values win";
    EXPECT_EQ(after.username, "src_user");
    EXPECT_EQ(after.phone, "+8613800000000");
    EXPECT_TRUE(after.phone_verified);
    EXPECT_EQ(after.company, "ACME");
    EXPECT_EQ(after.tags, (std::vector<std::string>{"a", "b", "c"}));
    EXPECT_TRUE(after.opted_out) << "consent: the stricter wins";
    EXPECT_EQ(after.referral_count, 3);
    EXPECT_EQ(after.status, "mql");
    EXPECT_EQ(after.identities.size(), 2u);

    ASSERT_EQ(ch.writes.lead_updates.size(), 1u);
    const auto& u = ch.writes.lead_updates[0];
    EXPECT_EQ(u.id, LeadId{7});
    EXPECT_FALSE(u.display_name.has_value());
    EXPECT_EQ(u.username, std::optional<std::string>("src_user"));
    EXPECT_EQ(u.phone, std::optional<std::string>("+8613800000000"));
    EXPECT_EQ(u.phone_verified, std::optional<bool>(true));
    EXPECT_EQ(u.company, std::optional<std::string>("ACME"));
    EXPECT_EQ(u.opted_out, std::optional<bool>(true));
    EXPECT_EQ(u.referral_count_delta, 2);
    EXPECT_EQ(u.status, std::optional<std::string>("mql"));
}

TEST_F(PlanMerge, WritesMergeRowAndMergedEvent_WhenMerging) {
    const auto r = svc_.plan_merge(source_, target_, kOps, "same person", kNow);
    ASSERT_TRUE(r.has_value());
    const auto& w = r->writes;
    ASSERT_EQ(w.merges.size(), 1u);
    EXPECT_EQ(w.merges[0].source, LeadId{9});
    EXPECT_EQ(w.merges[0].target, LeadId{7});
    EXPECT_EQ(w.merges[0].actor, "api:ops");
    EXPECT_EQ(w.merges[0].reason, "same person");
    EXPECT_EQ(w.merges[0].at, kNow);
    const auto snap = json::parse(w.merges[0].snapshot);
    EXPECT_EQ(snap.at("id").get<std::int64_t>(), 9);
    EXPECT_EQ(snap.at("display_name").get<std::string>(), "Source Name");
    EXPECT_EQ(snap.at("status").get<std::string>(), "mql");
    EXPECT_EQ(snap.at("created_at").get<std::int64_t>(), to_epoch_ms(kT0 + hours{5}));

    const auto merged = events_of(w, "merged");
    ASSERT_EQ(merged.size(), 1u);
    EXPECT_EQ(merged[0]->lead_id, LeadId{7});
    EXPECT_EQ(data_of(*merged[0]), json::parse(R"({"source":9,"reason":"same person"})"));
    const auto status = events_of(w, "status_changed");
    ASSERT_EQ(status.size(), 1u);
    EXPECT_EQ(data_of(*status[0]).at("reason").get<std::string>(), "merged from 9");
}

TEST_F(PlanMerge, KeepsTargetOptOut_WhenSourceIsOptedIn) {
    source_.opted_out = false;
    target_.opted_out = true;
    source_.referral_count = 0;
    const auto r = svc_.plan_merge(source_, target_, kOps, "dup", kNow);
    ASSERT_TRUE(r.has_value());
    EXPECT_TRUE(r->after.opted_out);
    ASSERT_EQ(r->writes.lead_updates.size(), 1u);
    EXPECT_FALSE(r->writes.lead_updates[0].opted_out.has_value());
    EXPECT_EQ(r->writes.lead_updates[0].referral_count_delta, 0);
}

TEST_F(PlanMerge, KeepsHigherTargetStatus_WhenSourceIsBehind) {
    source_.status = "engaged";
    target_.status = "customer";
    const auto r = svc_.plan_merge(source_, target_, kOps, "dup", kNow);
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->after.status, "customer");
    EXPECT_TRUE(events_of(r->writes, "status_changed").empty());
}

TEST_F(PlanMerge, AddsBehaviouralScores_WhenBothHavePoints) {
    source_.behavioral_score = 15;
    source_.score_at = kT0;
    target_.behavioral_score = 30;
    target_.score = 30;
    target_.grade = "warm";
    target_.score_at = kT0;
    const auto r = svc_.plan_merge(source_, target_, kOps, "dup", kNow);
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->after.score, 45);  // no decay in this config; no demographic rule matches
    EXPECT_EQ(r->after.grade, "warm");
    EXPECT_EQ(events_of(r->writes, "score_changed").size(), 1u);
}

TEST_F(PlanMerge, RefusesWithConflict_WhenSameLeadOrAlreadyMerged) {
    const auto self = svc_.plan_merge(target_, target_, kOps, "x", kNow);
    ASSERT_FALSE(self.has_value());
    EXPECT_EQ(self.error().code, "conflict");

    LeadRecord merged_source = source_;
    merged_source.merged_into = LeadId{1};
    const auto a = svc_.plan_merge(merged_source, target_, kOps, "x", kNow);
    ASSERT_FALSE(a.has_value());
    EXPECT_EQ(a.error().code, "conflict");
    EXPECT_EQ(a.error().message, "lead 9 was already merged");

    LeadRecord merged_target = target_;
    merged_target.merged_into = LeadId{2};
    const auto b = svc_.plan_merge(source_, merged_target, kOps, "x", kNow);
    ASSERT_FALSE(b.has_value());
    EXPECT_EQ(b.error().code, "conflict");
    EXPECT_EQ(b.error().message, "lead 7 was merged; merge into 2");

    LeadRecord erased = source_;
    erased.erased_at = kT0;
    const auto c = svc_.plan_merge(erased, target_, kOps, "x", kNow);
    ASSERT_FALSE(c.has_value());
    EXPECT_EQ(c.error().code, "conflict");
}

// ---- plan_erase -------------------------------------------------------------------------------

TEST_F(LeadServiceTest, PlanErase_WritesEraseRowAndEventWithoutPersonalData) {
    LeadRecord lead = make_lead();
    lead.display_name = "Ann Secret";
    lead.phone = "+8613800000000";
    lead.email = "ann@example.com";
    const auto ch = svc_.plan_erase(lead, kOps, kNow);
    const auto& w = ch.writes;
    EXPECT_TRUE(ch.changed);
    ASSERT_EQ(w.erasures.size(), 1u);
    EXPECT_EQ(w.erasures[0].lead_id, LeadId{7});
    EXPECT_EQ(w.erasures[0].at, kNow);
    ASSERT_EQ(w.events.size(), 1u);
    EXPECT_EQ(w.events[0].kind, "erased");
    EXPECT_EQ(w.events[0].actor, "api:ops");
    EXPECT_EQ(w.events[0].lead_id, LeadId{7});
    EXPECT_EQ(json::parse(w.events[0].data), json::object());
    for (const auto& e : w.events) {
        EXPECT_EQ(e.data.find("Ann"), std::string::npos);
        EXPECT_EQ(e.data.find("138"), std::string::npos);
        EXPECT_EQ(e.data.find("example"), std::string::npos);
    }
    EXPECT_TRUE(w.lead_updates.empty());
    EXPECT_EQ(ch.after.erased_at, std::optional<Timestamp>(kNow));
    EXPECT_EQ(ch.after.display_name, "");
}

// LeadChange::after is "the record after it"; storage's erase clears every personal field.
TEST_F(LeadServiceTest, PlanErase_ReturnsRecordWithoutPersonalData) {
    LeadRecord lead = make_lead();
    lead.username = "ann_l";
    lead.phone = "+8613800000000";
    lead.email = "ann@example.com";
    lead.company = "ACME";
    lead.notes = "private";
    lead.identities = {IdentityKey{"tg", "555"}};
    const auto after = svc_.plan_erase(lead, kOps, kNow).after;
    EXPECT_EQ(after.username, "");
    EXPECT_EQ(after.phone, "");
    EXPECT_EQ(after.email, "");
    EXPECT_EQ(after.company, "");
    EXPECT_EQ(after.notes, "");
    EXPECT_TRUE(after.identities.empty());
}

}  // namespace
}  // namespace leadhatch::core
