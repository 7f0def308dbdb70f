#include "core/scoring/scoring.hpp"
#include "tests/support/template_files.hpp"

#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace leadhatch::core {
namespace {

using testing::describe;
using testing::repo_dir;
using testing::read_text;

using std::chrono::milliseconds;

constexpr const char* kSource = "templates/scoring.json";
const std::string kP = std::string(kSource) + ": ";

// The time axis of these tests: day 0 is an arbitrary instant.
const Timestamp kT0 = from_epoch_ms(1'700'000'000'000);
constexpr double kMsPerDay = 86'400'000.0;

Timestamp day(double d) { return kT0 + milliseconds{static_cast<std::int64_t>(std::llround(d * kMsPerDay))}; }

ScoringEngine engine_from(const std::string& json) {
    std::vector<TemplateProblem> problems;
    auto parsed = parse_scoring(json, "test.json", problems);
    EXPECT_TRUE(parsed) << describe(problems);
    return ScoringEngine(parsed ? *parsed : ScoringConfig{});
}

ScoreSignal message(std::string text, bool in_group = false, Timestamp at = kT0) {
    ScoreSignal s;
    s.kind = ScoreSignal::Kind::kMessage;
    s.text = std::move(text);
    s.in_group = in_group;
    s.at = at;
    return s;
}
ScoreSignal button(std::string data) {
    ScoreSignal s;
    s.kind = ScoreSignal::Kind::kButtonPress;
    s.button_data = std::move(data);
    s.at = kT0;
    return s;
}
ScoreSignal command(std::string name) {
    ScoreSignal s;
    s.kind = ScoreSignal::Kind::kCommand;
    s.command = std::move(name);
    s.at = kT0;
    return s;
}
ScoreSignal quiz_answer(std::string quiz, std::string question, std::string answer) {
    ScoreSignal s;
    s.kind = ScoreSignal::Kind::kQuizAnswer;
    s.quiz = std::move(quiz);
    s.question = std::move(question);
    s.answer = std::move(answer);
    s.at = kT0;
    return s;
}
ScoreSignal link(std::string url) {
    ScoreSignal s;
    s.kind = ScoreSignal::Kind::kLinkClick;
    s.url = std::move(url);
    s.at = kT0;
    return s;
}
ScoreSignal joined() {
    ScoreSignal s;
    s.kind = ScoreSignal::Kind::kMemberJoined;
    s.in_group = true;
    s.at = kT0;
    return s;
}

struct Expect {
    std::string rule_id;
    int points;
    std::string reason;
    bool operator==(const Expect&) const = default;
};

std::ostream& operator<<(std::ostream& os, const Expect& e) {
    return os << "{" << e.rule_id << ", " << e.points << ", \"" << e.reason << "\"}";
}

std::vector<Expect> summarize(const std::vector<ScoreAward>& awards) {
    std::vector<Expect> out;
    for (const auto& a : awards) out.push_back({a.rule_id, a.points, a.reason});
    return out;
}

// --- behavioural matching -------------------------------------------------------------------------

const char* const kBehaviourRules = R"json({ "rules": [
  { "id": "pricing", "kind": "keyword", "keywords": ["price", "quote", "价格", "报价", "多少钱"], "points": 10 },
  { "id": "demo", "kind": "keyword", "keywords": ["demo", "演示", "试用"], "points": 15 },
  { "id": "pricing_button", "kind": "button", "data": "menu:pricing", "points": 10 },
  { "id": "any_menu", "kind": "button", "data": "menu:*", "points": 1 },
  { "id": "start", "kind": "command", "command": "start", "points": 5 },
  { "id": "budget", "kind": "quiz_answer", "quiz": "qualification", "question": "budget",
    "answers": { "high": 25, "low": 5, "none": 0 } },
  { "id": "any_link", "kind": "link_click", "points": 3 },
  { "id": "pricing_link", "kind": "link_click", "url_prefix": "https://example.com/pricing", "points": 8 },
  { "id": "group_activity", "kind": "group_message", "points": 1 },
  { "id": "direct", "kind": "message", "points": 2 },
  { "id": "joined", "kind": "group_join", "points": 3 }
] })json";

struct SignalCase {
    const char* name;
    ScoreSignal signal;
    std::vector<Expect> want;
};

class Behaviour : public ::testing::TestWithParam<SignalCase> {};

TEST_P(Behaviour, AwardsTheMatchingRules) {
    const auto& c = GetParam();
    const ScoringEngine engine = engine_from(kBehaviourRules);
    std::vector<RuleTotal> totals;
    const auto awards = engine.evaluate(c.signal, totals);
    EXPECT_EQ(summarize(awards), c.want);
    for (const auto& a : awards) {
        EXPECT_TRUE(a.behavioral);
        EXPECT_EQ(a.at, c.signal.at);
    }
    EXPECT_EQ(totals.size(), awards.size());
}

INSTANTIATE_TEST_SUITE_P(
    Scoring, Behaviour,
    ::testing::Values(
        SignalCase{"EnglishKeywordIgnoresCase",
                   message("What's the PRICE for 50 seats?"),
                   {{"pricing", 10, "keyword 'price' in a message"}, {"direct", 2, "private message"}}},
        SignalCase{"ChineseKeyword",
                   message("请问价格多少钱?"),
                   {{"pricing", 10, "keyword '价格' in a message"}, {"direct", 2, "private message"}}},
        SignalCase{"SeveralKeywordsAwardOnceNamingTheFirstListed",
                   message("Send me a quote and the price list"),
                   {{"pricing", 10, "keyword 'price' in a message"}, {"direct", 2, "private message"}}},
        SignalCase{"TwoKeywordRulesBothAward",
                   message("报价单发我，另外想试用一下"),
                   {{"pricing", 10, "keyword '报价' in a message"},
                    {"demo", 15, "keyword '试用' in a message"},
                    {"direct", 2, "private message"}}},
        SignalCase{"MixedScriptAndCase",
                   message("能不能约个DEMO演示?"),
                   {{"demo", 15, "keyword 'demo' in a message"}, {"direct", 2, "private message"}}},
        SignalCase{"NoKeyword", message("hello there"), {{"direct", 2, "private message"}}},
        SignalCase{"KeywordInAGroup",
                   message("any demo videos?", true),
                   {{"demo", 15, "keyword 'demo' in a group message"}, {"group_activity", 1, "message in a group"}}},
        SignalCase{"ExactButtonAndPrefixButton",
                   button("menu:pricing"),
                   {{"pricing_button", 10, "pressed button 'menu:pricing'"},
                    {"any_menu", 1, "pressed button 'menu:pricing'"}}},
        SignalCase{"PrefixButtonOnly", button("menu:demo"), {{"any_menu", 1, "pressed button 'menu:demo'"}}},
        SignalCase{"PrefixNeedsTheWholePrefix", button("menu"), {}},
        SignalCase{"ButtonDataIsCaseSensitive", button("MENU:pricing"), {}},
        SignalCase{"StartCommand", command("start"), {{"start", 5, "command /start"}}},
        SignalCase{
            "StartCommandWithSlashBotNameAndCase", command("/Start@leadhatch_bot"), {{"start", 5, "command /start"}}},
        SignalCase{"OtherCommand", command("help"), {}},
        SignalCase{"QuizAnswerPointsComeFromTheAnswer",
                   quiz_answer("qualification", "budget", "high"),
                   {{"budget", 25, "answered 'high' to qualification.budget"}}},
        SignalCase{"QuizLowAnswer",
                   quiz_answer("qualification", "budget", "low"),
                   {{"budget", 5, "answered 'low' to qualification.budget"}}},
        SignalCase{"QuizZeroPointAnswerAwardsNothing", quiz_answer("qualification", "budget", "none"), {}},
        SignalCase{"QuizUnknownAnswer", quiz_answer("qualification", "budget", "huge"), {}},
        SignalCase{"QuizOtherQuestion", quiz_answer("qualification", "timeline", "high"), {}},
        SignalCase{"QuizOtherQuiz", quiz_answer("onboarding", "budget", "high"), {}},
        SignalCase{"LinkWithPrefix",
                   link("https://example.com/pricing?plan=team"),
                   {{"any_link", 3, "clicked link https://example.com/pricing?plan=team"},
                    {"pricing_link", 8, "clicked link https://example.com/pricing?plan=team"}}},
        SignalCase{"LinkWithoutPrefix",
                   link("https://example.com/blog"),
                   {{"any_link", 3, "clicked link https://example.com/blog"}}},
        SignalCase{"GroupJoin", joined(), {{"joined", 3, "joined a group"}}}),
    [](const ::testing::TestParamInfo<SignalCase>& param_info) { return std::string(param_info.param.name); });

TEST(Scoring, DemographicRulesIgnoreSignalsAndBehaviouralRulesIgnoreFields) {
    const ScoringEngine engine = engine_from(R"({ "rules": [
      { "id": "size", "kind": "field", "field": "company_size", "range": [1, null], "points": 5 },
      { "id": "direct", "kind": "message", "points": 2 } ] })");
    std::vector<RuleTotal> totals;
    EXPECT_EQ(summarize(engine.evaluate(message("hi"), totals)),
              (std::vector<Expect>{{"direct", 2, "private message"}}));
    LeadFields fields;
    fields.company_size = 3;
    EXPECT_EQ(summarize(engine.demographic(fields, kT0)),
              (std::vector<Expect>{{"size", 5, "company_size 3 in [1, -)"}}));
}

// --- caps and periods on a time axis ------------------------------------------------------------

struct CapStep {
    double day;
    int awarded;          // points this message earns (0: none)
    std::int64_t total;   // the rule's all-time total afterwards
    double period_start;  // day the current window started (ignored without a period)
    std::int64_t period_points;
};

struct CapCase {
    const char* name;
    const char* rule;  // one keyword rule on "price"
    std::vector<CapStep> steps;
};

class CapsOverTime : public ::testing::TestWithParam<CapCase> {};

TEST_P(CapsOverTime, AwardsWithinCapAndPeriod) {
    const auto& c = GetParam();
    const ScoringEngine engine = engine_from(std::string(R"({"rules": [)") + c.rule + "]}");
    ASSERT_EQ(engine.config().rules.size(), 1U);
    const bool periodic = engine.config().rules[0].period_days.has_value();
    std::vector<RuleTotal> totals;
    std::vector<RuleTotal> limited_totals;  // the same steps through limit()
    for (const auto& s : c.steps) {
        SCOPED_TRACE("day " + std::to_string(s.day));
        const auto signal = message("what is the price?", false, day(s.day));
        const auto awards = engine.evaluate(signal, totals);
        // The inbound pipeline matches once with no totals, then limits by the lead's totals.
        std::vector<RuleTotal> none;
        const auto limited = engine.limit(engine.evaluate(signal, none), limited_totals);
        EXPECT_EQ(summarize(limited), summarize(awards));
        ASSERT_EQ(limited_totals.size(), totals.size());
        for (std::size_t i = 0; i < totals.size(); ++i) {
            EXPECT_EQ(limited_totals[i].total, totals[i].total);
            EXPECT_EQ(limited_totals[i].period_start, totals[i].period_start);
            EXPECT_EQ(limited_totals[i].period_points, totals[i].period_points);
        }
        if (s.awarded == 0) {
            EXPECT_TRUE(awards.empty());
        } else {
            ASSERT_EQ(awards.size(), 1U);
            EXPECT_EQ(awards[0].points, s.awarded);
            EXPECT_EQ(awards[0].at, day(s.day));
        }
        ASSERT_EQ(totals.size(), 1U);
        EXPECT_EQ(totals[0].rule_id, "pricing");
        EXPECT_EQ(totals[0].total, s.total);
        if (periodic) {
            EXPECT_EQ(totals[0].period_start, day(s.period_start));
            EXPECT_EQ(totals[0].period_points, s.period_points);
        }
    }
}

INSTANTIATE_TEST_SUITE_P(
    Scoring, CapsOverTime,
    ::testing::Values(
        // 10 a message, at most 10 a week, 30 ever: days 1 and 2 are inside day 0's week, day 8 opens
        // a new week, day 14.9 is still in it, day 15 opens the third and reaches the cap.
        CapCase{"WeeklyPeriodAndCap",
                R"({"id": "pricing", "kind": "keyword", "keywords": ["price"], "points": 10, "cap": 30,
                    "period": {"days": 7, "max": 10}})",
                {{0, 10, 10, 0, 10},
                 {1, 0, 10, 0, 10},
                 {2, 0, 10, 0, 10},
                 {8, 10, 20, 8, 10},
                 {14.9, 0, 20, 8, 10},
                 {15, 10, 30, 15, 10},
                 {22, 0, 30, 15, 10},
                 {100, 0, 30, 15, 10}}},
        // The window ends exactly period_days after it started: a message at that instant opens the next.
        CapCase{"WindowBoundaryIsExclusive",
                R"({"id": "pricing", "kind": "keyword", "keywords": ["price"], "points": 4,
                    "period": {"days": 1, "max": 6}})",
                {{0, 4, 4, 0, 4},
                 {0.5, 2, 6, 0, 6},
                 {0.99, 0, 6, 0, 6},
                 {1, 4, 10, 1, 4},
                 {1.5, 2, 12, 1, 6},
                 {3.25, 4, 16, 3.25, 4}}},
        // A cap that is not a multiple of the points: the last award is partial.
        CapCase{"PartialAwardAtTheCap",
                R"({"id": "pricing", "kind": "keyword", "keywords": ["price"], "points": 10, "cap": 25})",
                {{0, 10, 10, 0, 0}, {0, 10, 20, 0, 0}, {1, 5, 25, 0, 0}, {2, 0, 25, 0, 0}}},
        CapCase{"NoLimits",
                R"({"id": "pricing", "kind": "keyword", "keywords": ["price"], "points": 3})",
                {{0, 3, 3, 0, 0}, {0, 3, 6, 0, 0}, {400, 3, 9, 0, 0}}}),
    [](const ::testing::TestParamInfo<CapCase>& param_info) { return std::string(param_info.param.name); });

TEST(Scoring, TotalsOfOtherRulesAreKeptAndExistingTotalsAreUpdatedInPlace) {
    const ScoringEngine engine = engine_from(R"({"rules": [
      {"id": "pricing", "kind": "keyword", "keywords": ["price"], "points": 10, "cap": 30},
      {"id": "direct", "kind": "message", "points": 2, "cap": 4}]})");
    std::vector<RuleTotal> totals = {{"other", 7, kT0, 0}, {"pricing", 25, kT0, 0}};
    std::vector<RuleTotal> limited_totals = totals;
    std::vector<RuleTotal> none;
    const auto matched = engine.evaluate(message("price?", false, day(1)), none);
    const auto awards = engine.evaluate(message("price?", false, day(1)), totals);
    EXPECT_EQ(summarize(awards),
              (std::vector<Expect>{{"pricing", 5, "keyword 'price' in a message"}, {"direct", 2, "private message"}}));
    EXPECT_EQ(summarize(engine.limit(matched, limited_totals)), summarize(awards));
    ASSERT_EQ(limited_totals.size(), 3U);
    EXPECT_EQ(limited_totals[1].total, 30);
    EXPECT_EQ(limited_totals[2].total, 2);
    ASSERT_EQ(totals.size(), 3U);
    EXPECT_EQ(totals[0].total, 7);
    EXPECT_EQ(totals[1].total, 30);
    EXPECT_EQ(totals[2].rule_id, "direct");
    EXPECT_EQ(totals[2].total, 2);
}

TEST(Scoring, ARuleAtItsCapAddsNoTotalEntry) {
    const ScoringEngine engine = engine_from(R"({"rules": [
      {"id": "direct", "kind": "message", "points": 2, "cap": 2}]})");
    std::vector<RuleTotal> totals = {{"direct", 2, kT0, 0}};
    EXPECT_TRUE(engine.evaluate(message("hi"), totals).empty());
    ASSERT_EQ(totals.size(), 1U);
    EXPECT_EQ(totals[0].total, 2);
}

// --- demographic rules ----------------------------------------------------------------------------

const char* const kFieldRules = R"json({ "rules": [
  { "id": "tiny", "kind": "field", "field": "company_size", "range": [null, 10], "points": -5 },
  { "id": "small", "kind": "field", "field": "company_size", "range": [10, 50], "points": 5 },
  { "id": "mid", "kind": "field", "field": "company_size", "range": [50, 500], "points": 10 },
  { "id": "large", "kind": "field", "field": "company_size", "range": [500, null], "points": 15 },
  { "id": "industry", "kind": "field", "field": "industry", "in": ["software", "金融"], "points": 10 },
  { "id": "title", "kind": "field", "field": "title", "contains_any": ["CEO", "VP", "总监", "负责人"],
    "points": 15, "cap": 12 },
  { "id": "phone", "kind": "field", "field": "phone", "present": true, "points": 5 },
  { "id": "tier", "kind": "field", "field": "custom.tier", "in": ["gold"], "points": 7 },
  { "id": "seats", "kind": "field", "field": "custom.seats", "range": [100, null], "points": 4 }
] })json";

struct FieldCase {
    const char* name;
    LeadFields fields;
    std::vector<Expect> want;
};

LeadFields size(std::int64_t n) {
    LeadFields f;
    f.company_size = n;
    return f;
}
LeadFields with(std::string LeadFields::*member, std::string value) {
    LeadFields f;
    f.*member = std::move(value);
    return f;
}
LeadFields custom(std::string key, std::string value) {
    LeadFields f;
    f.custom[std::move(key)] = std::move(value);
    return f;
}

class Demographics : public ::testing::TestWithParam<FieldCase> {};

TEST_P(Demographics, AwardTheRulesTheFieldsMatch) {
    const auto& c = GetParam();
    const ScoringEngine engine = engine_from(kFieldRules);
    const auto awards = engine.demographic(c.fields, day(3));
    EXPECT_EQ(summarize(awards), c.want);
    for (const auto& a : awards) {
        EXPECT_FALSE(a.behavioral);
        EXPECT_EQ(a.at, day(3));
    }
}

INSTANTIATE_TEST_SUITE_P(
    Scoring, Demographics,
    ::testing::Values(
        FieldCase{"NothingKnown", LeadFields{}, {}},
        FieldCase{"BelowOpenMin", size(0), {{"tiny", -5, "company_size 0 in [-, 10)"}}},
        FieldCase{"MaxIsExclusive", size(9), {{"tiny", -5, "company_size 9 in [-, 10)"}}},
        FieldCase{"MinIsInclusive", size(10), {{"small", 5, "company_size 10 in [10, 50)"}}},
        FieldCase{"JustBelowNextRange", size(49), {{"small", 5, "company_size 49 in [10, 50)"}}},
        FieldCase{"MidRange", size(50), {{"mid", 10, "company_size 50 in [50, 500)"}}},
        FieldCase{"TopOfMid", size(499), {{"mid", 10, "company_size 499 in [50, 500)"}}},
        FieldCase{"OpenMax", size(500), {{"large", 15, "company_size 500 in [500, -)"}}},
        FieldCase{"Huge", size(250000), {{"large", 15, "company_size 250000 in [500, -)"}}},
        FieldCase{"InIgnoresCaseAndSpaces",
                  with(&LeadFields::industry, " Software "),
                  {{"industry", 10, "industry 'Software' in [software, 金融]"}}},
        FieldCase{"InChinese",
                  with(&LeadFields::industry, "金融"),
                  {{"industry", 10, "industry '金融' in [software, 金融]"}}},
        FieldCase{"InIsEqualityNotSubstring", with(&LeadFields::industry, "software services"), {}},
        FieldCase{"ContainsAnyIgnoresCaseAndCapApplies",
                  with(&LeadFields::title, "vp of sales"),
                  {{"title", 12, "title 'vp of sales' contains 'VP'"}}},
        FieldCase{"ContainsAnyChinese",
                  with(&LeadFields::title, "华东区销售总监"),
                  {{"title", 12, "title '华东区销售总监' contains '总监'"}}},
        FieldCase{"ContainsAnyNoMatch", with(&LeadFields::title, "Engineer"), {}},
        FieldCase{"Present", with(&LeadFields::phone, "+86 138 0000 0000"), {{"phone", 5, "phone present"}}},
        FieldCase{"CustomFieldIn", custom("tier", "GOLD"), {{"tier", 7, "custom.tier 'GOLD' in [gold]"}}},
        FieldCase{"CustomNumericField", custom("seats", "150"), {{"seats", 4, "custom.seats 150 in [100, -)"}}},
        FieldCase{"NonNumericValueFailsARange", custom("seats", "lots"), {}},
        FieldCase{"EmptyCustomValueIsUnset", custom("tier", ""), {}}),
    [](const ::testing::TestParamInfo<FieldCase>& param_info) { return std::string(param_info.param.name); });

TEST(Scoring, AllMatchingDemographicRulesAwardInRuleOrder) {
    const ScoringEngine engine = engine_from(kFieldRules);
    LeadFields f;
    f.company_size = 800;
    f.industry = "software";
    f.title = "CEO";
    f.phone = "123";
    const auto awards = engine.demographic(f, kT0);
    std::vector<std::string> ids;
    int sum = 0;
    for (const auto& a : awards) {
        ids.push_back(a.rule_id);
        sum += a.points;
    }
    EXPECT_EQ(ids, (std::vector<std::string>{"large", "industry", "title", "phone"}));
    EXPECT_EQ(sum, 15 + 10 + 12 + 5);
}

// --- decay, grades, qualification -------------------------------------------------------------------

struct DecayCase {
    const char* name;
    double half_life;
    double points;
    double awarded_day;
    double now_day;
    double want;
};

class Decay : public ::testing::TestWithParam<DecayCase> {};

TEST_P(Decay, HalvesEveryHalfLife) {
    const auto& c = GetParam();
    ScoringConfig config;
    config.behavioral_half_life_days = c.half_life;
    const ScoringEngine engine(config);
    EXPECT_DOUBLE_EQ(engine.decayed(c.points, day(c.awarded_day), day(c.now_day)), c.want);
    EXPECT_DOUBLE_EQ(engine.decay_total(c.points, day(c.awarded_day), day(c.now_day)), c.want);
}

INSTANTIATE_TEST_SUITE_P(Scoring, Decay,
                         ::testing::Values(DecayCase{"Fresh", 30, 80, 0, 0, 80},
                                         DecayCase{"ExactlyOneHalfLife", 30, 80, 0, 30, 40},
                                         DecayCase{"TwoHalfLives", 30, 80, 0, 60, 20},
                                         DecayCase{"HalfLifeCountsFromTheAward", 30, 80, 10, 40, 40},
                                         DecayCase{"HalfAHalfLife", 30, 80, 0, 15, 80 / std::sqrt(2.0)},
                                         DecayCase{"ShortHalfLife", 7, 10, 0, 21, 1.25},
                                         DecayCase{"NoDecayWhenHalfLifeIsZero", 0, 80, 0, 365, 80},
                                         DecayCase{"FutureAwardCountsAsFresh", 30, 80, 5, 0, 80}),
                         [](const ::testing::TestParamInfo<DecayCase>& param_info) {
                             return std::string(param_info.param.name);
                         });

TEST(Scoring, GradeAndQualificationThresholdsAreInclusive) {
    const ScoringEngine engine{ScoringConfig{}};  // hot 60, warm 30, mql 40, sql 80
    EXPECT_EQ(engine.grade(0), "cold");
    EXPECT_EQ(engine.grade(29.999), "cold");
    EXPECT_EQ(engine.grade(30), "warm");
    EXPECT_EQ(engine.grade(59.5), "warm");
    EXPECT_EQ(engine.grade(60), "hot");
    EXPECT_EQ(engine.grade(1000), "hot");
    EXPECT_EQ(engine.qualification(39.9), "");
    EXPECT_EQ(engine.qualification(40), "mql");
    EXPECT_EQ(engine.qualification(79.99), "mql");
    EXPECT_EQ(engine.qualification(80), "sql");
}

struct ExpiryCase {
    const char* name;
    double demographic;
    double behavioral;
    std::optional<double> crossing_days;  // nullopt: the grade never drops through decay
    const char* before;
    const char* after;
};

class GradeExpiry : public ::testing::TestWithParam<ExpiryCase> {};

TEST_P(GradeExpiry, IsTheFirstMillisecondOfTheLowerGrade) {
    const auto& c = GetParam();
    const ScoringEngine engine{ScoringConfig{}};  // half-life 30 days, hot 60, warm 30
    const Timestamp now = day(2);
    const auto expiry = engine.grade_expiry(c.demographic, c.behavioral, now);
    EXPECT_EQ(engine.grade(c.demographic + c.behavioral), c.before);
    if (!c.crossing_days) {
        EXPECT_FALSE(expiry.has_value());
        // and indeed, after a long time the grade is still the same
        EXPECT_EQ(engine.grade(c.demographic + engine.decay_total(c.behavioral, now, day(2 + 3650))), c.before);
        return;
    }
    ASSERT_TRUE(expiry.has_value());
    const auto exact_ms = *c.crossing_days * kMsPerDay;
    const auto got_ms = static_cast<double>((*expiry - now).count());
    EXPECT_GE(got_ms, exact_ms);
    EXPECT_LE(got_ms, exact_ms + 2);
    EXPECT_EQ(engine.grade(c.demographic + engine.decay_total(c.behavioral, now, *expiry)), c.after);
    EXPECT_EQ(engine.grade(c.demographic + engine.decay_total(c.behavioral, now, *expiry - milliseconds{1})), c.before);
}

INSTANTIATE_TEST_SUITE_P(
    Scoring, GradeExpiry,
    ::testing::Values(ExpiryCase{"HotDropsToWarm", 0, 80, 30 * std::log2(80.0 / 60.0), "hot", "warm"},
                    ExpiryCase{"HotWithDemographicFloor", 40, 30, 30 * std::log2(30.0 / 20.0), "hot", "warm"},
                    ExpiryCase{"WarmDropsToCold", 0, 45, 30 * std::log2(45.0 / 30.0), "warm", "cold"},
                    ExpiryCase{"WarmWithDemographicsDropsToCold", 20, 20, 30 * std::log2(20.0 / 10.0), "warm", "cold"},
                    ExpiryCase{"ExactlyAtThresholdDropsAtOnce", 0, 60, 0, "hot", "warm"},
                    ExpiryCase{"DemographicsAloneKeepHot", 65, 10, std::nullopt, "hot", "hot"},
                    ExpiryCase{"DemographicsAloneKeepWarm", 35, 10, std::nullopt, "warm", "warm"},
                    ExpiryCase{"ColdAlready", 0, 20, std::nullopt, "cold", "cold"},
                    ExpiryCase{"NoBehaviouralPoints", 70, 0, std::nullopt, "hot", "hot"}),
    [](const ::testing::TestParamInfo<ExpiryCase>& param_info) { return std::string(param_info.param.name); });

TEST(Scoring, NoGradeExpiryWithoutDecay) {
    ScoringConfig config;
    config.behavioral_half_life_days = 0;
    const ScoringEngine engine(config);
    EXPECT_FALSE(engine.grade_expiry(0, 80, kT0).has_value());
}

TEST(Scoring, GradeExpiryExampleFromTheSpec) {
    // D=0, B=80, hot=60, H=30d: hot until now + 30*log2(80/60) days (12.45 days), then warm.
    const ScoringEngine engine{ScoringConfig{}};
    const auto expiry = engine.grade_expiry(0, 80, kT0);
    ASSERT_TRUE(expiry.has_value());
    const double days = 30 * std::log2(80.0 / 60.0);
    EXPECT_EQ(*expiry, kT0 + milliseconds{static_cast<std::int64_t>(std::floor(days * kMsPerDay)) + 1});
    EXPECT_EQ(engine.grade(engine.decay_total(80, kT0, *expiry)), "warm");
}

// --- the shipped rule set ----------------------------------------------------------------------------

ScoringConfig shipped() {
    std::vector<TemplateProblem> problems;
    auto parsed = parse_scoring(read_text(repo_dir() + "/templates/scoring.json"), kSource, problems);
    EXPECT_TRUE(parsed) << describe(problems);
    EXPECT_TRUE(problems.empty()) << describe(problems);
    return parsed ? *parsed : ScoringConfig{};
}

TEST(ScoringTemplate, ShippedFileParsesCleanly) {
    const ScoringConfig config = shipped();
    EXPECT_EQ(config.behavioral_half_life_days, 30);
    EXPECT_EQ(config.hot, 60);
    EXPECT_EQ(config.warm, 30);
    EXPECT_EQ(config.mql, 40);
    EXPECT_EQ(config.sql, 80);
    std::set<std::string> kinds;
    for (const auto& r : config.rules) kinds.insert(r.kind);
    EXPECT_EQ(kinds, (std::set<std::string>{"keyword", "button", "command", "quiz_answer", "group_message", "message",
                                            "link_click", "group_join", "field"}));
}

TEST(ScoringTemplate, ShippedRulesScoreATypicalB2BLead) {
    const ScoringEngine engine(shipped());
    std::vector<RuleTotal> totals;
    EXPECT_EQ(summarize(engine.evaluate(message("你好，请问价格多少钱？可以先试用吗"), totals)),
              (std::vector<Expect>{{"pricing_keyword", 10, "keyword '价格' in a message"},
                                   {"demo_keyword", 15, "keyword '试用' in a message"},
                                   {"private_message", 2, "private message"}}));
    EXPECT_EQ(summarize(engine.evaluate(button("menu:demo"), totals)),
              (std::vector<Expect>{{"demo_button", 15, "pressed button 'menu:demo'"},
                                   {"menu_engagement", 1, "pressed button 'menu:demo'"}}));
    EXPECT_EQ(summarize(engine.evaluate(command("start"), totals)),
              (std::vector<Expect>{{"start_command", 5, "command /start"}}));
    EXPECT_EQ(summarize(engine.evaluate(quiz_answer("qualification", "budget", "over_200k"), totals)),
              (std::vector<Expect>{{"quiz_budget", 30, "answered 'over_200k' to qualification.budget"}}));
    EXPECT_EQ(summarize(engine.evaluate(message("We need a contract and an invoice"), totals)),
              (std::vector<Expect>{{"purchase_keyword", 20, "keyword 'contract' in a message"},
                                   {"private_message", 2, "private message"}}));

    LeadFields f;
    f.company_size = 800;
    f.industry = "FinTech";
    f.title = "总经理";
    f.region = "china";
    f.phone = "+86 138 0000 0000";
    f.company = "Acme";
    EXPECT_EQ(summarize(engine.demographic(f, kT0)),
              (std::vector<Expect>{{"company_size_enterprise", 15, "company_size 800 in [500, -)"},
                                   {"target_industry", 10,
                                    "industry 'FinTech' in [software, saas, internet, finance, fintech, e-commerce, "
                                    "education, 软件, 互联网, 金融, 电商, 教育]"},
                                   {"decision_maker_title", 15, "title '总经理' contains '总经理'"},
                                   {"target_region", 5,
                                    "region 'china' in [CN, China, 中国, HK, Hong Kong, 香港, SG, Singapore, 新加坡, "
                                    "US, United States]"},
                                   {"phone_shared", 5, "phone present"},
                                   {"company_known", 3, "company present"}}));
}

// --- parse errors -------------------------------------------------------------------------------------

struct BadScoring {
    const char* name;
    const char* json;
    std::vector<std::string> paths;  // exact, in report order
    const char* first_message_has;
};

class ScoringParseErrors : public ::testing::TestWithParam<BadScoring> {};

TEST_P(ScoringParseErrors, ReportsEveryProblemWithItsPath) {
    const auto& c = GetParam();
    std::vector<TemplateProblem> problems;
    auto parsed = parse_scoring(c.json, kSource, problems);
    ASSERT_FALSE(parsed);
    EXPECT_EQ(parsed.error().code, "invalid_config");
    std::vector<std::string> paths;
    for (const auto& p : problems) paths.push_back(p.path);
    EXPECT_EQ(paths, c.paths) << describe(problems);
    ASSERT_FALSE(problems.empty());
    EXPECT_NE(problems.front().message.find(c.first_message_has), std::string::npos) << describe(problems);
}

#define RULE0(body) "{\"rules\": [" body "]}"

INSTANTIATE_TEST_SUITE_P(
    Scoring, ScoringParseErrors,
    ::testing::Values(
        BadScoring{"NotJson", "{\"rules\": [", {kSource}, "not valid JSON"},
        BadScoring{"NotAnObject", "[]", {kSource}, "must be a JSON object"},
        BadScoring{"MissingRules", "{}", {kP + "rules"}, "required"},
        BadScoring{"RulesNotArray", R"({"rules": {}})", {kP + "rules"}, "must be an array"},
        BadScoring{"UnknownRootKey", R"({"rules": [], "decays": {}})", {kP + "decays"}, "unknown key"},
        BadScoring{"RuleNotObject", RULE0(R"("pricing")"), {kP + "rules[0]"}, "must be an object"},
        BadScoring{
            "MissingIdAndKind", RULE0(R"({"points": 5})"), {kP + "rules[0].kind", kP + "rules[0].id"}, "required"},
        BadScoring{"UnknownKind",
                   RULE0(R"({"id": "a", "kind": "email_open", "points": 5})"),
                   {kP + "rules[0].kind"},
                   "unknown kind 'email_open'"},
        BadScoring{"EmptyKeywordsInTheThirdRule",
                   RULE0(R"({"id": "a", "kind": "keyword", "keywords": ["price"], "points": 5},
                            {"id": "b", "kind": "button", "data": "menu:demo", "points": 5},
                            {"id": "c", "kind": "keyword", "keywords": [], "points": 5})"),
                   {kP + "rules[2].keywords"},
                   "non-empty array of strings"},
        BadScoring{"BadKeywordEntries",
                   RULE0(R"({"id": "a", "kind": "keyword", "keywords": ["price", 7, ""],
                   "points": 5})"),
                   {kP + "rules[0].keywords[1]", kP + "rules[0].keywords[2]"},
                   "must be a string"},
        BadScoring{"MissingKeywords",
                   RULE0(R"({"id": "a", "kind": "keyword", "points": 5})"),
                   {kP + "rules[0].keywords"},
                   "required"},
        BadScoring{"DuplicateRuleId",
                   RULE0(R"({"id": "pricing", "kind": "message", "points": 1},
                            {"id": "pricing", "kind": "group_message", "points": 1})"),
                   {kP + "rules[1].id"},
                   "duplicate rule id 'pricing' (first at rules[0])"},
        BadScoring{"MissingPoints", RULE0(R"({"id": "a", "kind": "message"})"), {kP + "rules[0].points"}, "required"},
        BadScoring{"PointsNotIntegers",
                   RULE0(R"({"id": "a", "kind": "message", "points": "10"},
                            {"id": "b", "kind": "message", "points": 2.5})"),
                   {kP + "rules[0].points", kP + "rules[1].points"},
                   "integer"},
        BadScoring{"BehaviouralPointsMustBePositive",
                   RULE0(R"({"id": "a", "kind": "message", "points": -3})"),
                   {kP + "rules[0].points"},
                   "from 1 to"},
        BadScoring{"KeyOfAnotherKind",
                   RULE0(R"({"id": "a", "kind": "button", "data": "menu:demo", "keywords": ["x"], "points": 5})"),
                   {kP + "rules[0].keywords"},
                   "not used by kind 'button'"},
        BadScoring{"TypoInKey",
                   RULE0(R"({"id": "a", "kind": "message", "point": 5})"),
                   {kP + "rules[0].point", kP + "rules[0].points"},
                   "unknown key"},
        BadScoring{"BadPeriod",
                   RULE0(R"({"id": "a", "kind": "message", "points": 1, "period": {"days": 0, "weeks": 1}})"),
                   {kP + "rules[0].period.weeks", kP + "rules[0].period.days", kP + "rules[0].period.max"},
                   "unknown key"},
        BadScoring{"PeriodNotObject",
                   RULE0(R"({"id": "a", "kind": "message", "points": 1, "period": 7})"),
                   {kP + "rules[0].period"},
                   "must be an object"},
        BadScoring{"CapZero",
                   RULE0(R"({"id": "a", "kind": "message", "points": 1, "cap": 0})"),
                   {kP + "rules[0].cap"},
                   "from 1 to"},
        BadScoring{"QuizProblems",
                   RULE0(R"({"id": "q", "kind": "quiz_answer", "quiz": "qualification", "question": "budget",
                            "points": 5, "answers": {"high": -1, "low": "x", "mid": 10}})"),
                   {kP + "rules[0].points", kP + "rules[0].answers.high", kP + "rules[0].answers.low"},
                   "points come from answers"},
        BadScoring{"QuizMissingEverything",
                   RULE0(R"({"id": "q", "kind": "quiz_answer"})"),
                   {kP + "rules[0].quiz", kP + "rules[0].question", kP + "rules[0].answers"},
                   "required"},
        BadScoring{"QuizEmptyAnswers",
                   RULE0(R"({"id": "q", "kind": "quiz_answer", "quiz": "a", "question": "b", "answers": {}})"),
                   {kP + "rules[0].answers"},
                   "non-empty object"},
        BadScoring{"UnknownField",
                   RULE0(R"({"id": "f", "kind": "field", "field": "revenue", "present": true,
                   "points": 5})"),
                   {kP + "rules[0].field"},
                   "unknown field 'revenue'"},
        BadScoring{"RangeInverted",
                   RULE0(R"({"id": "f", "kind": "field", "field": "company_size",
                   "range": [500, 10], "points": 5})"),
                   {kP + "rules[0].range"},
                   "min must be below max"},
        BadScoring{"RangeOpenAtBothEnds",
                   RULE0(R"({"id": "f", "kind": "field", "field": "company_size",
                   "range": [null, null], "points": 5})"),
                   {kP + "rules[0].range"},
                   "needs a min or a max"},
        BadScoring{"RangeBadBound",
                   RULE0(R"({"id": "f", "kind": "field", "field": "company_size",
                   "range": ["10", 50], "points": 5})"),
                   {kP + "rules[0].range[0]"},
                   "number or null"},
        BadScoring{"RangeWrongShape",
                   RULE0(R"({"id": "f", "kind": "field", "field": "company_size",
                   "range": [10], "points": 5})"),
                   {kP + "rules[0].range"},
                   "[min, max]"},
        BadScoring{"TwoConditions",
                   RULE0(R"({"id": "f", "kind": "field", "field": "company_size",
                   "range": [10, 50], "in": ["10"], "points": 5})"),
                   {kP + "rules[0].in"},
                   "one condition per rule (already has range)"},
        BadScoring{"NoCondition",
                   RULE0(R"({"id": "f", "kind": "field", "field": "title", "points": 5})"),
                   {kP + "rules[0]"},
                   "needs one condition"},
        BadScoring{"PresentFalse",
                   RULE0(R"({"id": "f", "kind": "field", "field": "phone", "present": false,
                   "points": 5})"),
                   {kP + "rules[0].present"},
                   "must be true"},
        BadScoring{"FieldRuleWithPeriod",
                   RULE0(R"({"id": "f", "kind": "field", "field": "phone", "present": true,
                   "points": 5, "period": {"days": 1, "max": 1}})"),
                   {kP + "rules[0].period"},
                   "not used by kind 'field'"},
        BadScoring{"FieldPointsZero",
                   RULE0(R"({"id": "f", "kind": "field", "field": "phone", "present": true,
                   "points": 0})"),
                   {kP + "rules[0].points"},
                   "must not be 0"},
        BadScoring{"CapOnPenalty",
                   RULE0(R"({"id": "f", "kind": "field", "field": "phone", "present": true,
                   "points": -5, "cap": 3})"),
                   {kP + "rules[0].cap"},
                   "positive points only"},
        BadScoring{"ButtonStarNotAtTheEnd",
                   RULE0(R"({"id": "b", "kind": "button", "data": "menu:*:x",
                   "points": 5})"),
                   {kP + "rules[0].data"},
                   "only at the end"},
        BadScoring{"CommandWithSlash",
                   RULE0(R"({"id": "c", "kind": "command", "command": "/start",
                   "points": 5})"),
                   {kP + "rules[0].command"},
                   "without '/'"},
        BadScoring{"LinkPrefixNotString",
                   RULE0(R"({"id": "l", "kind": "link_click", "url_prefix": 1,
                   "points": 5})"),
                   {kP + "rules[0].url_prefix"},
                   "must be a string"},
        BadScoring{"WarmAboveHot",
                   R"({"grades": {"hot": 30, "warm": 60}, "rules": []})",
                   {kP + "grades.warm"},
                   "must not be above hot (30)"},
        BadScoring{"WarmAboveDefaultHot",
                   R"({"grades": {"warm": 70}, "rules": []})",
                   {kP + "grades.warm"},
                   "must not be above hot (60)"},
        BadScoring{"MqlAboveSql",
                   R"({"thresholds": {"mql": 90, "sql": 80}, "rules": []})",
                   {kP + "thresholds.mql"},
                   "must not be above sql (80)"},
        BadScoring{"NegativeHalfLife",
                   R"({"decay": {"behavioral_half_life_days": -1}, "rules": []})",
                   {kP + "decay.behavioral_half_life_days"},
                   "a number from 0"},
        BadScoring{"GradesWrongTypes",
                   R"({"grades": {"hot": "60", "cool": 1}, "rules": []})",
                   {kP + "grades.cool", kP + "grades.hot"},
                   "unknown key"},
        BadScoring{"SectionsNotObjects",
                   R"({"decay": 30, "grades": [], "thresholds": null, "rules": []})",
                   {kP + "decay", kP + "grades", kP + "thresholds"},
                   "must be an object"},
        BadScoring{"ManyProblemsAtOnce",
                   R"({"grades": {"hot": 10, "warm": 20}, "rules": [
                        {"id": "a", "kind": "keyword", "keywords": "price", "points": 10},
                        {"id": "a", "kind": "button", "data": "", "points": 5},
                        {"id": "c", "kind": "field", "field": "company_size", "range": [1, 2], "points": 1,
                         "cap": "x"}], "extra": true})",
                   {kP + "extra", kP + "grades.warm", kP + "rules[0].keywords", kP + "rules[1].id",
                    kP + "rules[1].data", kP + "rules[2].cap"},
                   "unknown key"}),
    [](const ::testing::TestParamInfo<BadScoring>& param_info) { return std::string(param_info.param.name); });

#undef RULE0

}  // namespace
}  // namespace leadhatch::core
