#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/leads/lead_fields.hpp"
#include "core/scoring/scoring.hpp"
#include "tests/support/template_files.hpp"

namespace leadhatch::core {
namespace {

using testing::describe;
using testing::repo_dir;
using testing::read_text;

constexpr const char* kSource = "templates/segments.json";
const std::string kP = std::string(kSource) + ": ";

SegmentsConfig parse_ok(const std::string& json) {
    std::vector<TemplateProblem> problems;
    auto parsed = parse_segments(json, "test.json", problems);
    EXPECT_TRUE(parsed) << describe(problems);
    EXPECT_TRUE(problems.empty()) << describe(problems);
    return parsed ? *parsed : SegmentsConfig{};
}

LeadFields lead(std::optional<std::int64_t> size = std::nullopt, std::string industry = "", std::string title = "",
                std::string phone = "", const std::vector<std::pair<std::string, std::string>>& custom = {}) {
    LeadFields f;
    f.company_size = size;
    f.industry = std::move(industry);
    f.title = std::move(title);
    f.phone = std::move(phone);
    for (const auto& [k, v] : custom) f.custom[k] = v;
    return f;
}

// --- LeadFields::get ------------------------------------------------------------------------------

TEST(LeadFields, GetsFieldsByName) {
    LeadFields f;
    f.phone = "+86 138";
    f.email = "a@b.c";
    f.company = "Acme";
    f.title = "CTO";
    f.region = "CN";
    f.industry = "software";
    f.company_size = 120;
    f.custom["tier"] = "gold";
    f.custom["empty"] = "";
    EXPECT_EQ(f.get("phone"), "+86 138");
    EXPECT_EQ(f.get("email"), "a@b.c");
    EXPECT_EQ(f.get("company"), "Acme");
    EXPECT_EQ(f.get("title"), "CTO");
    EXPECT_EQ(f.get("region"), "CN");
    EXPECT_EQ(f.get("industry"), "software");
    EXPECT_EQ(f.get("company_size"), "120");
    EXPECT_EQ(f.get("custom.tier"), "gold");
    EXPECT_EQ(f.get("custom.empty"), std::nullopt);
    EXPECT_EQ(f.get("custom.missing"), std::nullopt);
    EXPECT_EQ(f.get("custom."), std::nullopt);
    EXPECT_EQ(f.get("tier"), std::nullopt);
    EXPECT_EQ(f.get("Phone"), std::nullopt);
}

TEST(LeadFields, UnsetFieldsAreNullopt) {
    const LeadFields f;
    for (const char* name : {"phone", "email", "company", "title", "region", "industry", "company_size"}) {
        EXPECT_EQ(f.get(name), std::nullopt) << name;
    }
    LeadFields zero;
    zero.company_size = 0;
    EXPECT_EQ(zero.get("company_size"), "0");
}

// --- default and shipped segments ----------------------------------------------------------------------

struct SegmentCase {
    const char* name;
    LeadFields fields;
    const char* want;
};

class DefaultSegments : public ::testing::TestWithParam<SegmentCase> {};

TEST_P(DefaultSegments, SplitByCompanySize) {
    EXPECT_EQ(segment_for(default_segments(), GetParam().fields), GetParam().want);
}

INSTANTIATE_TEST_SUITE_P(
    Segments, DefaultSegments,
    ::testing::Values(SegmentCase{"SizeUnknown", lead(), "unknown"}, SegmentCase{"SoleTrader", lead(1), "household"},
                    SegmentCase{"Nine", lead(9), "household"}, SegmentCase{"Ten", lead(10), "small_business"},
                    SegmentCase{"FourNinetyNine", lead(499), "small_business"},
                    SegmentCase{"FiveHundred", lead(500), "enterprise"},
                    SegmentCase{"Huge", lead(120000), "enterprise"},
                    SegmentCase{"IndustryDoesNotMatterByDefault", lead(20, "finance"), "small_business"}),
    [](const ::testing::TestParamInfo<SegmentCase>& param_info) { return std::string(param_info.param.name); });

SegmentsConfig shipped() {
    std::vector<TemplateProblem> problems;
    auto parsed = parse_segments(read_text(repo_dir() + "/templates/segments.json"), kSource, problems);
    EXPECT_TRUE(parsed) << describe(problems);
    EXPECT_TRUE(problems.empty()) << describe(problems);
    return parsed ? *parsed : SegmentsConfig{};
}

TEST(SegmentsTemplate, ShippedFileParsesCleanly) {
    const SegmentsConfig config = shipped();
    std::vector<std::string> ids;
    for (const auto& s : config.segments) ids.push_back(s.id);
    EXPECT_EQ(ids, (std::vector<std::string>{"finance", "enterprise", "small_business", "household"}));
    EXPECT_EQ(config.fallback, "unknown");
}

class ShippedSegments : public ::testing::TestWithParam<SegmentCase> {};

TEST_P(ShippedSegments, IndustryAccountsComeBeforeSizes) {
    EXPECT_EQ(segment_for(shipped(), GetParam().fields), GetParam().want);
}

INSTANTIATE_TEST_SUITE_P(
    Segments, ShippedSegments,
    ::testing::Values(SegmentCase{"BankOfAnySize", lead(20000, "Banking"), "finance"},
                    SegmentCase{"ChineseFinance", lead(5, "金融"), "finance"},
                    SegmentCase{"FinanceWithoutSize", lead(std::nullopt, "insurance"), "finance"},
                    SegmentCase{"LargeSoftwareCompany", lead(800, "software"), "enterprise"},
                    SegmentCase{"SmallRetailer", lead(40, "retail"), "small_business"},
                    SegmentCase{"Family", lead(3), "household"}, SegmentCase{"NothingKnown", lead(), "unknown"},
                    SegmentCase{"IndustryIsEqualityNotSubstring", lead(std::nullopt, "financial news"), "unknown"}),
    [](const ::testing::TestParamInfo<SegmentCase>& param_info) { return std::string(param_info.param.name); });

// --- conditions ------------------------------------------------------------------------------------------

const char* const kConditions = R"json({
  "segments": [
    { "id": "no_phone_big", "when": { "phone": { "present": false }, "company_size": { "gt": 1000 } } },
    { "id": "exec", "label": "Executives", "when": { "title": { "contains_any": ["ceo", "总经理"] } } },
    { "id": "gold", "when": { "custom.tier": { "in": ["Gold", "Platinum"] } } },
    { "id": "seats", "when": { "custom.seats": { "gte": 100, "lte": 200 } } },
    { "id": "has_phone", "when": { "phone": { "present": true } } }
  ],
  "default": "other"
})json";

class Conditions : public ::testing::TestWithParam<SegmentCase> {};

TEST_P(Conditions, FirstSegmentWhoseConditionsAllHoldWins) {
    EXPECT_EQ(segment_for(parse_ok(kConditions), GetParam().fields), GetParam().want);
}

INSTANTIATE_TEST_SUITE_P(
    Segments, Conditions,
    ::testing::Values(
        SegmentCase{"PresentFalseHoldsForAMissingField", lead(5000), "no_phone_big"},
        SegmentCase{"AllConditionsMustHold", lead(500), "other"}, SegmentCase{"GtIsExclusive", lead(1000), "other"},
        SegmentCase{"PresentFalseFailsWhenPresent", lead(5000, "", "", "123"), "has_phone"},
        SegmentCase{"ContainsAnyIgnoresCase", lead(std::nullopt, "", "Co-founder & CEO"), "exec"},
        SegmentCase{"ContainsAnyChinese", lead(std::nullopt, "", "华南区总经理"), "exec"},
        SegmentCase{"FirstMatchWins", lead(std::nullopt, "", "CEO", "123", {{"tier", "gold"}}), "exec"},
        SegmentCase{"InIgnoresCase", lead(std::nullopt, "", "", "", {{"tier", "platinum"}}), "gold"},
        SegmentCase{"InMissesOtherValues", lead(std::nullopt, "", "", "", {{"tier", "silver"}}), "other"},
        SegmentCase{"NumericCustomFieldInRange", lead(std::nullopt, "", "", "", {{"seats", "150"}}), "seats"},
        SegmentCase{"InclusiveBounds", lead(std::nullopt, "", "", "", {{"seats", "200"}}), "seats"},
        SegmentCase{"DecimalText", lead(std::nullopt, "", "", "", {{"seats", " 100.0 "}}), "seats"},
        SegmentCase{"NonNumericFailsNumericConditions", lead(std::nullopt, "", "", "", {{"seats", "many"}}), "other"},
        SegmentCase{"AboveRange", lead(std::nullopt, "", "", "", {{"seats", "201"}}), "other"},
        SegmentCase{"MissingFieldFailsItsCondition", lead(), "other"}),
    [](const ::testing::TestParamInfo<SegmentCase>& param_info) { return std::string(param_info.param.name); });

TEST(Segments, LabelDefaultsToIdAndAnEmptyWhenMatchesEveryone) {
    const SegmentsConfig config = parse_ok(R"({"segments": [
        {"id": "vip", "label": "VIP", "when": {"custom.vip": {"present": true}}},
        {"id": "everyone", "when": {}}]})");
    ASSERT_EQ(config.segments.size(), 2U);
    EXPECT_EQ(config.segments[0].label, "VIP");
    EXPECT_EQ(config.segments[1].label, "everyone");
    EXPECT_EQ(config.fallback, "unknown");
    EXPECT_EQ(segment_for(config, LeadFields{}), "everyone");
    EXPECT_EQ(segment_for(config, lead(std::nullopt, "", "", "", {{"vip", "yes"}})), "vip");
}

TEST(Segments, NoSegmentsMeansTheFallback) {
    SegmentsConfig config;
    config.fallback = "nobody";
    EXPECT_EQ(segment_for(config, lead(500)), "nobody");
}

// --- parse errors ----------------------------------------------------------------------------------------

struct BadSegments {
    const char* name;
    const char* json;
    std::vector<std::string> paths;
    const char* first_message_has;
};

class SegmentsParseErrors : public ::testing::TestWithParam<BadSegments> {};

TEST_P(SegmentsParseErrors, ReportsEveryProblemWithItsPath) {
    const auto& c = GetParam();
    std::vector<TemplateProblem> problems;
    auto parsed = parse_segments(c.json, kSource, problems);
    ASSERT_FALSE(parsed);
    EXPECT_EQ(parsed.error().code, "invalid_config");
    std::vector<std::string> paths;
    for (const auto& p : problems) paths.push_back(p.path);
    EXPECT_EQ(paths, c.paths) << describe(problems);
    ASSERT_FALSE(problems.empty());
    EXPECT_NE(problems.front().message.find(c.first_message_has), std::string::npos) << describe(problems);
}

INSTANTIATE_TEST_SUITE_P(
    Segments, SegmentsParseErrors,
    ::testing::Values(
        BadSegments{"NotJson", "{\"segments\": [}", {kSource}, "not valid JSON"},
        BadSegments{"NotAnObject", "\"enterprise\"", {kSource}, "must be a JSON object"},
        BadSegments{"MissingSegments", R"({"default": "x"})", {kP + "segments"}, "required"},
        BadSegments{"UnknownRootKey", R"({"segments": [], "fallback": "x"})", {kP + "fallback"}, "unknown key"},
        BadSegments{"EmptyDefault", R"({"segments": [], "default": ""})", {kP + "default"}, "must not be empty"},
        BadSegments{"SegmentNotObject", R"({"segments": [["enterprise"]]})", {kP + "segments[0]"}, "must be an object"},
        BadSegments{"MissingWhen", R"({"segments": [{"id": "a"}]})", {kP + "segments[0].when"}, "required"},
        BadSegments{"MissingId", R"({"segments": [{"when": {}}]})", {kP + "segments[0].id"}, "required"},
        BadSegments{"DuplicateId",
                    R"({"segments": [{"id": "a", "when": {"phone": {"present": true}}}, {"id": "a", "when": {}}]})",
                    {kP + "segments[1].id"},
                    "duplicate segment id 'a' (first at segments[0])"},
        BadSegments{"UnknownField",
                    R"({"segments": [{"id": "a", "when": {"size": {"gte": 1}}}]})",
                    {kP + "segments[0].when.size"},
                    "unknown field 'size'"},
        BadSegments{"UnknownOperator",
                    R"({"segments": [{"id": "a", "when": {"company_size": {"between": [1, 2]}}}]})",
                    {kP + "segments[0].when.company_size.between"},
                    "unknown key"},
        BadSegments{"EmptyCondition",
                    R"({"segments": [{"id": "a", "when": {"company_size": {}}}]})",
                    {kP + "segments[0].when.company_size"},
                    "non-empty object"},
        BadSegments{"NumberAsString",
                    R"({"segments": [{"id": "a", "when": {"company_size": {"gte": "500"}}}]})",
                    {kP + "segments[0].when.company_size.gte"},
                    "must be a number"},
        BadSegments{"BothLowerBounds",
                    R"({"segments": [{"id": "a", "when": {"company_size": {"gte": 10, "gt": 9}}}]})",
                    {kP + "segments[0].when.company_size.gt"},
                    "either gte or gt"},
        BadSegments{"EmptyRange",
                    R"({"segments": [{"id": "a", "when": {"company_size": {"gte": 500, "lt": 10}}}]})",
                    {kP + "segments[0].when.company_size"},
                    "empty range"},
        BadSegments{"EmptyRangeAtOnePoint",
                    R"({"segments": [{"id": "a", "when": {"company_size": {"gt": 10, "lte": 10}}}]})",
                    {kP + "segments[0].when.company_size"},
                    "empty range"},
        BadSegments{"PresentFalseWithOthers",
                    R"({"segments": [{"id": "a", "when": {"industry": {"present": false, "in": ["x"]}}}]})",
                    {kP + "segments[0].when.industry.present"},
                    "cannot be combined"},
        BadSegments{"PresentNotBool",
                    R"({"segments": [{"id": "a", "when": {"phone": {"present": 1}}}]})",
                    {kP + "segments[0].when.phone.present"},
                    "true or false"},
        BadSegments{"InNotArray",
                    R"({"segments": [{"id": "a", "when": {"industry": {"in": "finance"}}}]})",
                    {kP + "segments[0].when.industry.in"},
                    "non-empty array"},
        BadSegments{"ContainsAnyBadEntry",
                    R"({"segments": [{"id": "a", "when": {"title": {"contains_any": ["ceo", ""]}}}]})",
                    {kP + "segments[0].when.title.contains_any[1]"},
                    "must not be empty"},
        BadSegments{"WhenNotObject",
                    R"({"segments": [{"id": "a", "when": ["company_size"]}]})",
                    {kP + "segments[0].when"},
                    "must be an object"},
        BadSegments{"UnreachableAfterCatchAll",
                    R"({"segments": [{"id": "all", "when": {}}, {"id": "b", "when": {"phone": {"present": true}}}]})",
                    {kP + "segments[1]"},
                    "never matches: segments[0] before it matches every lead"},
        BadSegments{"ManyProblemsAtOnce",
                    R"({"segments": [{"id": "a", "label": 1, "when": {"company_size": {"gte": "x"}}},
                                     {"id": "a", "when": {"region": {"in": []}}, "colour": "red"}], "other": 1})",
                    {kP + "other", kP + "segments[0].label", kP + "segments[0].when.company_size.gte",
                     kP + "segments[1].colour", kP + "segments[1].id", kP + "segments[1].when.region.in"},
                    "unknown key"}),
    [](const ::testing::TestParamInfo<BadSegments>& param_info) { return std::string(param_info.param.name); });

}  // namespace
}  // namespace leadhatch::core
