#include "core/funnel/funnel.hpp"
#include "tests/support/template_files.hpp"

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace leadhatch::core {
namespace {

using testing::describe;
using testing::repo_dir;
using testing::read_text;

constexpr const char* kSource = "templates/funnel.json";

std::vector<std::string> paths_of(const std::vector<TemplateProblem>& problems) {
    std::vector<std::string> out;
    for (const auto& p : problems) out.push_back(p.path);
    return out;
}

// --- the default funnel -----------------------------------------------------------------------

struct StageExpectation {
    const char* id;
    int probability;
    bool terminal;
    bool requires_reason;
};

TEST(DefaultFunnel, HasTheSalesStagesInOrderWithWinProbabilities) {
    const std::vector<StageExpectation> want = {
        {"opportunity", 0, false, false},  {"identified", 10, false, false},
        {"demo", 30, false, false},        {"decision_maker", 50, false, false},
        {"negotiation", 70, false, false}, {"contract", 90, false, false},
        {"won", 100, true, false},         {"lost", 0, true, true},
    };
    const FunnelConfig config = default_funnel();
    ASSERT_EQ(config.stages.size(), want.size());
    for (std::size_t i = 0; i < want.size(); ++i) {
        SCOPED_TRACE(want[i].id);
        EXPECT_EQ(config.stages[i].id, want[i].id);
        EXPECT_FALSE(config.stages[i].label.empty());
        EXPECT_EQ(config.stages[i].probability, want[i].probability);
        EXPECT_EQ(config.stages[i].terminal, want[i].terminal);
        EXPECT_EQ(config.stages[i].requires_reason, want[i].requires_reason);
    }
    EXPECT_TRUE(config.allow_backward);
}

TEST(DefaultFunnel, LooksUpStagesByIdAndIndex) {
    const Funnel funnel(default_funnel());
    EXPECT_EQ(funnel.first().id, "opportunity");
    EXPECT_EQ(funnel.index("opportunity"), 0);
    EXPECT_EQ(funnel.index("lost"), 7);
    EXPECT_EQ(funnel.index("nope"), -1);
    ASSERT_NE(funnel.stage("demo"), nullptr);
    EXPECT_EQ(funnel.stage("demo")->probability, 30);
    EXPECT_EQ(funnel.stage("Demo"), nullptr);
}

TEST(FunnelTemplate, ShippedFileParsesCleanlyAndEqualsTheDefault) {
    std::vector<TemplateProblem> problems;
    auto parsed = parse_funnel(read_text(repo_dir() + "/templates/funnel.json"), kSource, problems);
    ASSERT_TRUE(parsed) << describe(problems);
    EXPECT_TRUE(problems.empty()) << describe(problems);
    const FunnelConfig want = default_funnel();
    ASSERT_EQ(parsed->stages.size(), want.stages.size());
    for (std::size_t i = 0; i < want.stages.size(); ++i) {
        EXPECT_EQ(parsed->stages[i].id, want.stages[i].id);
        EXPECT_EQ(parsed->stages[i].label, want.stages[i].label);
        EXPECT_EQ(parsed->stages[i].probability, want.stages[i].probability);
        EXPECT_EQ(parsed->stages[i].terminal, want.stages[i].terminal);
        EXPECT_EQ(parsed->stages[i].requires_reason, want.stages[i].requires_reason);
    }
    EXPECT_EQ(parsed->allow_backward, want.allow_backward);
}

TEST(FunnelParse, LabelDefaultsToIdAndFlagsDefaultToFalse) {
    std::vector<TemplateProblem> problems;
    auto parsed = parse_funnel(R"({"stages": [{"id": "new", "probability": 5}, {"id": "done", "probability": 100,
                                   "terminal": true}], "allow_backward": false})",
                               kSource, problems);
    ASSERT_TRUE(parsed) << describe(problems);
    EXPECT_EQ(parsed->stages[0].label, "new");
    EXPECT_FALSE(parsed->stages[0].terminal);
    EXPECT_FALSE(parsed->stages[0].requires_reason);
    EXPECT_TRUE(parsed->stages[1].terminal);
    EXPECT_FALSE(parsed->allow_backward);
}

// --- transitions --------------------------------------------------------------------------------

struct MoveCase {
    const char* name;
    const char* from;
    const char* to;
    const char* reason;
    bool ok;
    const char* why;  // exact sentence when refused
};

class FunnelMoves : public ::testing::TestWithParam<MoveCase> {};

TEST_P(FunnelMoves, FollowsTheStageRules) {
    const auto& c = GetParam();
    const Funnel funnel(default_funnel());
    const TransitionCheck check = funnel.can_move(c.from, c.to, c.reason);
    EXPECT_EQ(check.ok, c.ok);
    EXPECT_EQ(check.why, c.why);
}

INSTANTIATE_TEST_SUITE_P(
    DefaultFunnel, FunnelMoves,
    ::testing::Values(
        MoveCase{"ForwardOneStep", "opportunity", "identified", "", true, ""},
        MoveCase{"ForwardSkippingStages", "identified", "contract", "", true, ""},
        MoveCase{"ForwardWithReasonIsFine", "demo", "negotiation", "budget approved", true, ""},
        MoveCase{"ForwardToWon", "contract", "won", "", true, ""},
        MoveCase{"FirstStageStraightToWon", "opportunity", "won", "", true, ""},
        MoveCase{"BackwardWithReason", "demo", "identified", "demo postponed, needs re-qualification", true, ""},
        MoveCase{"BackwardWithoutReason", "demo", "identified", "", false,
                 "moving back from demo to identified needs a reason"},
        MoveCase{"BackwardWithBlankReason", "negotiation", "demo", "  \t", false,
                 "moving back from negotiation to demo needs a reason"},
        MoveCase{"LostWithReason", "negotiation", "lost", "went with a competitor", true, ""},
        MoveCase{"LostWithoutReason", "negotiation", "lost", "", false, "lost needs a reason"},
        MoveCase{"LostFromFirstStageWithoutReason", "opportunity", "lost", "", false, "lost needs a reason"},
        MoveCase{"WonToLostIsNotAMoveOutOfTerminal", "won", "lost", "refund", false,
                 "cannot move from won: reopen to opportunity with a reason"},
        MoveCase{"WonBackToDemo", "won", "demo", "wrong click", false,
                 "cannot move from won: reopen to opportunity with a reason"},
        MoveCase{"LostToContract", "lost", "contract", "they came back", false,
                 "cannot move from lost: reopen to opportunity with a reason"},
        MoveCase{"ReopenLostWithReason", "lost", "opportunity", "new budget next quarter", true, ""},
        MoveCase{"ReopenWonWithReason", "won", "opportunity", "upsell", true, ""},
        MoveCase{"ReopenWithoutReason", "lost", "opportunity", "", false,
                 "reopening from lost to opportunity needs a reason"},
        MoveCase{"SameStage", "demo", "demo", "", false, "already in stage demo"},
        MoveCase{"SameTerminalStage", "won", "won", "x", false, "already in stage won"},
        MoveCase{"UnknownTarget", "demo", "foo", "", false, "unknown stage 'foo'"},
        MoveCase{"UnknownSource", "bar", "demo", "", false, "unknown stage 'bar'"},
        MoveCase{"StageIdsAreCaseSensitive", "demo", "Won", "", false, "unknown stage 'Won'"}),
    [](const ::testing::TestParamInfo<MoveCase>& param_info) { return std::string(param_info.param.name); });

TEST(FunnelMovesNoBackward, BackwardIsRefusedEvenWithAReasonButReopenStillWorks) {
    FunnelConfig config = default_funnel();
    config.allow_backward = false;
    const Funnel funnel(config);
    EXPECT_EQ(funnel.can_move("demo", "identified", "because").why,
              "moving back from demo to identified is not allowed");
    EXPECT_FALSE(funnel.can_move("demo", "identified", "because").ok);
    EXPECT_TRUE(funnel.can_move("demo", "contract", "").ok);
    EXPECT_TRUE(funnel.can_move("lost", "opportunity", "new budget").ok);
}

// A lead's life through the funnel, step by step in time order: each move starts from where the
// previous accepted move left the lead.
struct JourneyStep {
    int day;
    const char* to;
    const char* reason;
    bool ok;
};

TEST(FunnelJourney, ALeadMovesThroughTheFunnelOverTime) {
    const Funnel funnel(default_funnel());
    const std::vector<JourneyStep> steps = {
        {0, "identified", "", true},
        {2, "demo", "", true},
        {3, "identified", "", false},
        {3, "identified", "demo no-show", true},
        {9, "demo", "", true},
        {12, "negotiation", "", true},
        {20, "lost", "", false},
        {20, "lost", "budget frozen", true},
        {40, "negotiation", "budget back", false},
        {40, "opportunity", "budget back", true},
        {41, "contract", "", true},
        {45, "won", "", true},
        {46, "won", "", false},
    };
    std::string stage = funnel.first().id;
    for (const auto& s : steps) {
        SCOPED_TRACE("day " + std::to_string(s.day) + ": " + stage + " -> " + s.to);
        const auto check = funnel.can_move(stage, s.to, s.reason);
        EXPECT_EQ(check.ok, s.ok) << check.why;
        if (check.ok) stage = s.to;
    }
    EXPECT_EQ(stage, "won");
    EXPECT_EQ(funnel.stage(stage)->probability, 100);
}

// --- parse errors -------------------------------------------------------------------------------

struct BadFunnel {
    const char* name;
    const char* json;
    std::vector<std::string> paths;  // exact, in report order
    const char* first_message_has;
};

class FunnelParseErrors : public ::testing::TestWithParam<BadFunnel> {};

TEST_P(FunnelParseErrors, ReportsEveryProblemWithItsPath) {
    const auto& c = GetParam();
    std::vector<TemplateProblem> problems{{"earlier.json: x", "kept"}};
    auto parsed = parse_funnel(c.json, kSource, problems);
    ASSERT_FALSE(parsed);
    EXPECT_EQ(parsed.error().code, "invalid_config");
    EXPECT_EQ(parsed.error().field, kSource);
    ASSERT_GE(problems.size(), 2U);
    EXPECT_EQ(problems.front().path, "earlier.json: x");
    problems.erase(problems.begin());
    EXPECT_EQ(paths_of(problems), c.paths) << describe(problems);
    EXPECT_NE(problems.front().message.find(c.first_message_has), std::string::npos) << describe(problems);
    EXPECT_NE(parsed.error().message.find(problems.front().path), std::string::npos);
}

const std::string kP = std::string(kSource) + ": ";

INSTANTIATE_TEST_SUITE_P(
    Funnel, FunnelParseErrors,
    ::testing::Values(BadFunnel{"NotJson", R"({"stages": [)", {kSource}, "not valid JSON"},
                    BadFunnel{"NotAnObject", R"([1, 2])", {kSource}, "must be a JSON object"},
                    BadFunnel{"MissingStages", R"({"allow_backward": true})", {kP + "stages"}, "required"},
                    BadFunnel{"StagesNotArray", R"({"stages": {"id": "a"}})", {kP + "stages"}, "must be an array"},
                    BadFunnel{
                        "OneStage", R"({"stages": [{"id": "a", "probability": 0}]})", {kP + "stages"}, "at least two"},
                    BadFunnel{"UnknownRootKey",
                              R"({"stages": [{"id": "a", "probability": 0}, {"id": "b", "probability": 9}],
                  "allow_backwards": true})",
                              {kP + "allow_backwards"},
                              "unknown key"},
                    BadFunnel{"AllowBackwardNotBool",
                              R"({"stages": [{"id": "a", "probability": 0},
                  {"id": "b", "probability": 9}], "allow_backward": "yes"})",
                              {kP + "allow_backward"},
                              "true or false"},
                    BadFunnel{"ProbabilityTooHigh",
                              R"({"stages": [{"id": "a", "probability": 0}, {"id": "b", "probability": 9},
                  {"id": "c", "probability": 50}, {"id": "d", "probability": 120}]})",
                              {kP + "stages[3].probability"},
                              "from 0 to 100"},
                    BadFunnel{"ProbabilityNotInteger",
                              R"({"stages": [{"id": "a", "probability": "high"},
                  {"id": "b", "probability": 9.5}]})",
                              {kP + "stages[0].probability", kP + "stages[1].probability"},
                              "integer"},
                    BadFunnel{"MissingIdAndProbability",
                              R"({"stages": [{"label": "A"}, {"id": "b", "probability": 9}]})",
                              {kP + "stages[0].id", kP + "stages[0].probability"},
                              "required"},
                    BadFunnel{"DuplicateId",
                              R"({"stages": [{"id": "a", "probability": 0}, {"id": "b", "probability": 9},
                  {"id": "a", "probability": 20}]})",
                              {kP + "stages[2].id"},
                              "duplicate stage id 'a' (first at stages[0])"},
                    BadFunnel{"BadIdCharacters",
                              R"({"stages": [{"id": "first stage", "probability": 0},
                  {"id": "b", "probability": 9}]})",
                              {kP + "stages[0].id"},
                              "letters, digits"},
                    BadFunnel{"UnknownStageKey",
                              R"({"stages": [{"id": "a", "probability": 0},
                  {"id": "b", "probability": 9, "colour": "red"}]})",
                              {kP + "stages[1].colour"},
                              "unknown key"},
                    BadFunnel{"StageNotObject",
                              R"({"stages": [{"id": "a", "probability": 0}, "b"]})",
                              {kP + "stages[1]"},
                              "must be an object"},
                    BadFunnel{"FirstStageTerminal",
                              R"({"stages": [{"id": "a", "probability": 0, "terminal": true},
                  {"id": "b", "probability": 9}]})",
                              {kP + "stages[0].terminal"},
                              "first stage cannot be terminal"},
                    BadFunnel{"TerminalBeforeOpenStage",
                              R"({"stages": [{"id": "a", "probability": 0},
                  {"id": "won", "probability": 100, "terminal": true}, {"id": "c", "probability": 50}]})",
                              {kP + "stages[1].terminal"},
                              "'c' follows 'won'"},
                    BadFunnel{"FlagsNotBool",
                              R"({"stages": [{"id": "a", "probability": 0},
                  {"id": "b", "probability": 9, "terminal": 1, "requires_reason": "yes"}]})",
                              {kP + "stages[1].terminal", kP + "stages[1].requires_reason"},
                              "true or false"},
                    BadFunnel{"ManyProblemsAtOnce",
                              R"({"stages": [{"id": "", "probability": -1}, {"id": "b", "label": 3,
                  "probability": 9}, {"id": "b", "probability": 10, "x": 1}], "y": 2})",
                              {kP + "y", kP + "stages[0].id", kP + "stages[0].probability", kP + "stages[1].label",
                               kP + "stages[2].x", kP + "stages[2].id"},
                              "unknown key"}),
    [](const ::testing::TestParamInfo<BadFunnel>& param_info) { return std::string(param_info.param.name); });

}  // namespace
}  // namespace leadhatch::core
