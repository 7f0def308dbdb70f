// TemplateCatalog: loading locale files (problems with JSON paths), rendering {{vars}} with HTML
// escaping only for HTML templates, buttons, locale choice and required keys.
#include "core/messaging/templates.hpp"
#include "tests/support/template_files.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <ostream>
#include <string>
#include <vector>

namespace leadhatch::core {
namespace {

using testing::describe;

bool has_problem(const std::vector<TemplateProblem>& problems, const std::string& path) {
    return std::any_of(problems.begin(), problems.end(), [&](const TemplateProblem& p) { return p.path == path; });
}

TemplateCatalog catalog_of(std::initializer_list<std::pair<std::string, std::string>> locales) {
    TemplateCatalog c;
    std::vector<TemplateProblem> problems;
    for (const auto& [locale, text] : locales) c.add_locale(locale, text, locale + ".json", problems);
    EXPECT_TRUE(problems.empty()) << describe(problems);
    return c;
}

// ---- add_locale -----------------------------------------------------------------------------

TEST(TemplateCatalogLoad, ReportsFileOnly_WhenNotJson) {
    TemplateCatalog c;
    std::vector<TemplateProblem> problems;
    c.add_locale("en", "{ not json", "templates/messages/en.json", problems);
    ASSERT_EQ(problems.size(), 1u);
    EXPECT_EQ(problems[0].path, "templates/messages/en.json");
    EXPECT_EQ(problems[0].message, "not valid JSON");
    EXPECT_TRUE(c.empty());
}

TEST(TemplateCatalogLoad, ReportsFileOnly_WhenNotAnObject) {
    TemplateCatalog c;
    std::vector<TemplateProblem> problems;
    c.add_locale("en", R"(["welcome"])", "en.json", problems);
    ASSERT_EQ(problems.size(), 1u);
    EXPECT_EQ(problems[0].path, "en.json");
    EXPECT_TRUE(c.empty());
}

TEST(TemplateCatalogLoad, NamesJsonPathAndSkipsEntry_WhenEntryIsBad) {
    const std::string long_data(65, 'x');
    const std::string text = R"({
      "ok": "Fine {{name}}",
      "number": 5,
      "unknown_key": { "text": "x", "color": "red" },
      "no_text": { "buttons": [] },
      "bad_mode": { "text": "x", "parse_mode": "Markdown" },
      "both_or_neither": { "text": "x", "buttons": [[ { "text": "A", "data": "a" }, { "text": "B" } ]] },
      "both": { "text": "x", "buttons": [[ { "text": "A", "data": "a", "url": "https://e.com" } ]] },
      "empty_row": { "text": "x", "buttons": [ [] ] },
      "rows_not_array": { "text": "x", "buttons": { "text": "A" } },
      "button_no_text": { "text": "x", "buttons": [[ { "data": "a" } ]] },
      "long_data": { "text": "x", "buttons": [[ { "text": "A", "data": ")" +
                             long_data + R"(" } ]] },
      "unclosed": "Hi {{name",
      "bad_name": "Hi {{na me}}",
      "empty_name": "Hi {{}}",
      "unclosed_in_object": { "text": "Hi {{name" },
      "empty": ""
    })";
    TemplateCatalog c;
    std::vector<TemplateProblem> problems;
    c.add_locale("en", text, "en.json", problems);

    const std::vector<std::string> expected_paths = {
        "en.json: number",
        "en.json: unknown_key.color",
        "en.json: no_text.text",
        "en.json: bad_mode.parse_mode",
        "en.json: both_or_neither.buttons[0][1]",
        "en.json: both.buttons[0][0]",
        "en.json: empty_row.buttons[0]",
        "en.json: rows_not_array.buttons",
        "en.json: button_no_text.buttons[0][0].text",
        "en.json: long_data.buttons[0][0].data",
        "en.json: unclosed",
        "en.json: bad_name",
        "en.json: empty_name",
        "en.json: unclosed_in_object.text",
        "en.json: empty",
    };
    for (const auto& path : expected_paths)
        EXPECT_TRUE(has_problem(problems, path)) << path << "\n" << describe(problems);
    EXPECT_EQ(problems.size(), expected_paths.size()) << describe(problems);
    for (const auto& p : problems) EXPECT_FALSE(p.message.empty()) << p.path;

    // The bad entries are skipped, the good one is kept.
    EXPECT_NE(c.find("ok", "en"), nullptr);
    for (const char* key :
         {"number", "unknown_key", "no_text", "bad_mode", "both_or_neither", "both", "empty_row", "rows_not_array",
          "button_no_text", "long_data", "unclosed", "bad_name", "empty_name", "unclosed_in_object", "empty"}) {
        EXPECT_EQ(c.find(key, "en"), nullptr) << key;
    }
}

TEST(TemplateCatalogLoad, KeepsObjectTemplate_WhenWellFormed) {
    const auto c = catalog_of({{"en", R"({
      "menu": { "text": "<b>Menu</b>", "parse_mode": "HTML",
                "buttons": [[ { "text": "Pricing", "data": "menu:pricing" }, { "text": "Site", "url": "https://e.com" } ],
                            [ { "text": "Demo", "data": "menu:demo" } ]] } })"}});
    const MessageTemplate* t = c.find("menu", "en");
    ASSERT_NE(t, nullptr);
    EXPECT_EQ(t->text, "<b>Menu</b>");
    EXPECT_EQ(t->parse_mode, "HTML");
    ASSERT_EQ(t->buttons.size(), 2u);
    ASSERT_EQ(t->buttons[0].size(), 2u);
    EXPECT_EQ(t->buttons[0][0].data, "menu:pricing");
    EXPECT_EQ(t->buttons[0][1].url, "https://e.com");
    EXPECT_EQ(t->buttons[1][0].text, "Demo");
    EXPECT_EQ(c.find("menu", "zh-CN"), nullptr);
    EXPECT_EQ(c.find("other", "en"), nullptr);
}

TEST(TemplateCatalogLookup, FallsBackToEnglishThenAnyLocale_AsRenderDoes) {
    const auto c = catalog_of({{"en", R"({ "a": "A en", "b": "B en" })"},
                               {"ja", R"({ "c": "C ja" })"},
                               {"zh-CN", R"({ "a": "A zh" })"}});
    ASSERT_NE(c.lookup("a", "zh-CN"), nullptr);
    EXPECT_EQ(c.lookup("a", "zh-CN")->text, "A zh");
    EXPECT_EQ(c.find("b", "zh-CN"), nullptr);
    ASSERT_NE(c.lookup("b", "zh-CN"), nullptr);
    EXPECT_EQ(c.lookup("b", "zh-CN")->text, "B en");
    ASSERT_NE(c.lookup("c", "zh-CN"), nullptr);
    EXPECT_EQ(c.lookup("c", "zh-CN")->text, "C ja");
    EXPECT_EQ(c.lookup("d", "zh-CN"), nullptr);
    EXPECT_EQ(c.render("b", "zh-CN", {})->text, "B en");
}

// ---- render -----------------------------------------------------------------------------------

TEST(TemplateCatalogRender, ReplacesPlaceholders_WhenVarsGiven) {
    const auto c = catalog_of({{"en", R"({ "welcome": "Hi {{name}}, your code is {{code}}.{{missing}}" })"}});
    const auto m = c.render("welcome", "en", {{"name", "Ann"}, {"code", "ab12cd34"}});
    ASSERT_TRUE(m.has_value());
    EXPECT_EQ(m->text, "Hi Ann, your code is ab12cd34.");
    EXPECT_EQ(m->parse_mode, "");
}

TEST(TemplateCatalogRender, EscapesValues_OnlyWhenParseModeIsHtml) {
    const auto c = catalog_of({{"en", R"({
      "plain": "Hi {{name}}",
      "html": { "text": "<b>Hi</b> {{name}}", "parse_mode": "HTML" } })"}});
    const TemplateVars vars{{"name", R"(<i>Tom</i> & "Jerry")"}};
    const auto plain = c.render("plain", "en", vars);
    const auto html = c.render("html", "en", vars);
    ASSERT_TRUE(plain && html);
    EXPECT_EQ(plain->text, R"(Hi <i>Tom</i> & "Jerry")");
    // The template's own markup stays; only the value is escaped.
    EXPECT_EQ(html->text, "<b>Hi</b> &lt;i&gt;Tom&lt;/i&gt; &amp; &quot;Jerry&quot;");
    EXPECT_EQ(html->parse_mode, "HTML");
}

TEST(TemplateCatalogRender, RendersButtonsWithVars_WithoutHtmlEscaping) {
    const auto c = catalog_of({{"en", R"({
      "offer": { "text": "For {{name}}", "parse_mode": "HTML",
                 "buttons": [[ { "text": "Buy for {{name}}", "data": "buy:{{sku}}" } ],
                             [ { "text": "Open", "url": "https://e.com/p/{{sku}}" } ]] } })"}});
    const auto m = c.render("offer", "en", {{"name", "A&B"}, {"sku", "x1"}});
    ASSERT_TRUE(m.has_value());
    EXPECT_EQ(m->text, "For A&amp;B");
    ASSERT_EQ(m->buttons.size(), 2u);
    ASSERT_EQ(m->buttons[0].size(), 1u);
    EXPECT_EQ(m->buttons[0][0].text, "Buy for A&B");
    EXPECT_EQ(m->buttons[0][0].data, "buy:x1");
    EXPECT_EQ(m->buttons[1][0].url, "https://e.com/p/x1");
    EXPECT_EQ(m->buttons[1][0].data, "");
}

TEST(TemplateCatalogRender, FallsBackToEnThenAnyLocale_WhenKeyMissingInLocale) {
    const auto c = catalog_of({{"en", R"({ "both": "EN both", "en_only": "EN only" })"},
                               {"zh-CN", R"({ "both": "中文", "zh_only": "只有中文" })"}});
    EXPECT_EQ(c.render("both", "zh-CN", {})->text, "中文");
    EXPECT_EQ(c.render("en_only", "zh-CN", {})->text, "EN only");
    EXPECT_EQ(c.render("zh_only", "en", {})->text, "只有中文");
    EXPECT_EQ(c.render("both", "fr", {})->text, "EN both");
    EXPECT_FALSE(c.render("nowhere", "en", {}).has_value());
}

TEST(RenderText, LeavesUnclosedPlaceholderAsText_WhenNoClosingBraces) {
    EXPECT_EQ(render_text("a {{x}} b {{y", {{"x", "1"}, {"y", "2"}}, false), "a 1 b {{y");
    EXPECT_EQ(render_text("{{x}}{{x}}", {{"x", "<>"}}, true), "&lt;&gt;&lt;&gt;");
    EXPECT_EQ(render_text("", {}, true), "");
}

TEST(HtmlEscape, EscapesMarkupCharacters_AndNothingElse) {
    EXPECT_EQ(html_escape(R"(<a href="x">&</a>)"), "&lt;a href=&quot;x&quot;&gt;&amp;&lt;/a&gt;");
    EXPECT_EQ(html_escape("价格 it's"), "价格 it's");
}

// ---- pick_locale ------------------------------------------------------------------------------

struct PickCase {
    const char* name;
    const char* user_language;
    const char* fallback;
    const char* expected;
};

void PrintTo(const PickCase& c, std::ostream* os) { *os << c.name; }

class TemplateCatalogPickLocale : public ::testing::TestWithParam<PickCase> {};

TEST_P(TemplateCatalogPickLocale, PicksBestLocale_ForUserLanguage) {
    const auto c = catalog_of({{"en", R"({ "k": "en" })"}, {"zh-CN", R"({ "k": "zh" })"}, {"ru", R"({ "k": "ru" })"}});
    const auto& p = GetParam();
    EXPECT_EQ(c.pick_locale(p.user_language, p.fallback), p.expected);
}

INSTANTIATE_TEST_SUITE_P(Cases, TemplateCatalogPickLocale,
                         ::testing::Values(PickCase{"Exact", "ru", "en", "ru"},
                                           PickCase{"ExactCaseInsensitive", "ZH-cn", "en", "zh-CN"},
                                           PickCase{"LanguagePrefixHans", "zh-hans", "en", "zh-CN"},
                                           PickCase{"LanguagePrefixUnderscore", "zh_TW", "en", "zh-CN"},
                                           PickCase{"BareLanguage", "zh", "en", "zh-CN"},
                                           PickCase{"RegionVariant", "en-GB", "zh-CN", "en"},
                                           PickCase{"UnknownUsesFallback", "fr", "zh-CN", "zh-CN"},
                                           PickCase{"EmptyUsesFallback", "", "ru", "ru"},
                                           PickCase{"UnknownFallbackUsesEn", "fr", "de", "en"}),
                         [](const ::testing::TestParamInfo<PickCase>& tpi) { return std::string(tpi.param.name); });

TEST(TemplateCatalogPickLocaleNoEn, UsesFirstLocale_WhenNeitherFallbackNorEnExist) {
    const auto c = catalog_of({{"zh-CN", R"({ "k": "zh" })"}, {"ru", R"({ "k": "ru" })"}});
    EXPECT_EQ(c.pick_locale("fr", "de"), "ru");  // the first in order
    const TemplateCatalog empty;
    EXPECT_EQ(empty.pick_locale("fr", "de"), "de");
}

// ---- validate_required ------------------------------------------------------------------------

TEST(TemplateCatalogValidate, ReportsMissingKeyPerLocaleFile_WhenRequiredKeyAbsent) {
    TemplateCatalog c;
    std::vector<TemplateProblem> problems;
    c.add_locale("en", R"({ "welcome": "Hi", "help": "Help" })", "templates/messages/en.json", problems);
    c.add_locale("zh-CN", R"({ "welcome": "你好" })", "templates/messages/zh-CN.json", problems);
    ASSERT_TRUE(problems.empty()) << describe(problems);

    c.validate_required({"welcome", "help", "unsubscribed"}, problems);
    EXPECT_TRUE(has_problem(problems, "templates/messages/en.json: unsubscribed")) << describe(problems);
    EXPECT_TRUE(has_problem(problems, "templates/messages/zh-CN.json: help")) << describe(problems);
    EXPECT_TRUE(has_problem(problems, "templates/messages/zh-CN.json: unsubscribed")) << describe(problems);
    EXPECT_EQ(problems.size(), 3u) << describe(problems);

    std::vector<TemplateProblem> none;
    c.validate_required({"welcome"}, none);
    EXPECT_TRUE(none.empty()) << describe(none);
}

TEST(TemplateCatalog, ListsLocales_InOrder) {
    const auto c = catalog_of({{"zh-CN", R"({ "k": "zh" })"}, {"en", R"({ "k": "en" })"}});
    EXPECT_EQ(c.locales(), (std::vector<std::string>{"en", "zh-CN"}));
    EXPECT_FALSE(c.empty());
}

}  // namespace
}  // namespace leadhatch::core
