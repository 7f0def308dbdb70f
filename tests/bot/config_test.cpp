#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>

#include "bot/config.hpp"
#include "tests/support/test_db.hpp"

namespace leadhatch::bot {
namespace {

class ConfigTest : public ::testing::Test {
protected:
    void SetUp() override {
        ::setenv("LH_TEST_TOKEN", "0123456789abcdef-admin", 1);
        ::setenv("LH_TEST_TG", "123456:AAE-secret-token", 1);
        ::unsetenv("LH_TEST_UNSET");
        templates_ = testing::source_dir() + "/templates";
    }

    ConfigLoad load(const std::string& text) {
        const auto path = dir_.path() / "config.json";
        std::ofstream(path) << text;
        return load_config(path);
    }

    // A valid config with one spot replaced.
    std::string valid(const std::string& extra_top = "", const std::string& channel_extra = "") {
        return R"({
          "server": { "listen": "127.0.0.1:0", "threads": 2, "max_body_bytes": 65536 },
          "storage": { "url": "sqlite::memory:" },
          "timezone": "Asia/Shanghai",
          "templates_dir": ")" +
               templates_ + R"(",
          "admin_tokens": [ { "name": "ops", "role": "admin", "token": "${LH_TEST_TOKEN}" } ],
          "channels": [ { "id": "tg-main", "platform": "telegram", "bot_token": "${LH_TEST_TG}",
                          "secret_token": "abc_DEF-123", "api_base": "http://127.0.0.1:1" )" +
               channel_extra + R"( } ])" + extra_top + "}";
    }

    static bool has(const ConfigLoad& l, const std::string& path, const std::string& fragment = "") {
        for (const auto& p : l.problems) {
            if (p.path == path && p.message.find(fragment) != std::string::npos) return true;
        }
        return false;
    }
    static std::string dump(const ConfigLoad& l) {
        std::string s;
        for (const auto& p : l.problems) s += p.path + ": " + p.message + "\n";
        return s;
    }

    testing::TempDir dir_;
    std::string templates_;
};

TEST_F(ConfigTest, LoadsAValidConfig_WithEnvironmentSecrets) {
    auto l = load(valid());
    ASSERT_TRUE(l.config) << dump(l);
    const Config& c = *l.config;
    EXPECT_EQ(c.server.host, "127.0.0.1");
    EXPECT_EQ(c.server.port, 0);
    EXPECT_EQ(c.server.max_body_bytes, 65536u);
    EXPECT_EQ(c.storage.parsed.sqlite_path, ":memory:");
    ASSERT_EQ(c.channels.size(), 1u);
    EXPECT_EQ(c.channels[0].credential("bot_token"), "123456:AAE-secret-token");
    EXPECT_EQ(c.channels[0].api_base, "http://127.0.0.1:1");
    ASSERT_EQ(c.admin_tokens.size(), 1u);
    EXPECT_EQ(c.admin_tokens[0].sha256, sha256("0123456789abcdef-admin"));  // only the hash is kept
    EXPECT_EQ(c.admin_tokens[0].role, Role::kAdmin);
}

TEST_F(ConfigTest, Defaults_RunOnLoopback) {
    auto l = load(R"({"storage": {"url": "sqlite:x.db"}, "templates_dir": ")" + templates_ + R"("})");
    ASSERT_TRUE(l.config) << dump(l);
    EXPECT_EQ(l.config->server.host, "127.0.0.1");
    EXPECT_EQ(l.config->server.port, 8080);
    EXPECT_EQ(l.config->storage.parsed.sqlite_path, (dir_.path() / "x.db").string());  // relative to the file
}

struct BadCase {
    const char* name;
    std::string extra_top;
    std::string channel_extra;
    std::string path;
    std::string fragment;
};

class BadConfigTest : public ConfigTest, public ::testing::WithParamInterface<BadCase> {};

TEST_P(BadConfigTest, NamesTheProblemWithItsPath) {
    const auto& c = GetParam();
    auto l = load(valid(c.extra_top, c.channel_extra));
    EXPECT_FALSE(l.config);
    EXPECT_TRUE(has(l, c.path, c.fragment)) << "wanted " << c.path << ": ..." << c.fragment << "\ngot:\n" << dump(l);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, BadConfigTest,
    ::testing::Values(
        BadCase{"UnknownTopKey", R"(, "sever": {})", "", "sever", "unknown key"},
        BadCase{"UnknownChannelKey", "", R"(, "bot_tokne": "x")", "channels[0].bot_tokne", "unknown key"},
        BadCase{"UnsetEnv", "", R"(, "bot_username": "${LH_TEST_UNSET}")", "channels[0].bot_username",
                "LH_TEST_UNSET is not set"},
        BadCase{"BadEnvName", "", R"(, "bot_username": "${1BAD}")", "channels[0].bot_username", "invalid"},
        BadCase{"DuplicateChannel",
                R"(, "logging": {"level": "info"}, "outbox": {"max_attempts": 3})", R"(}, {"id": "tg-main", "platform": "telegram", "bot_token": "a", "secret_token": "b")",
                "channels[1].id", "duplicate"},
        BadCase{"UnknownPlatform", "", R"(}, {"id": "x", "platform": "icq")", "channels[1].platform", "unknown platform"},
        BadCase{"MissingCredential", "", R"(}, {"id": "x2", "platform": "telegram", "bot_token": "a")",
                "channels[1].secret_token", "required"},
        BadCase{"BadSecretAlphabet", "", R"(}, {"id": "x3", "platform": "telegram", "bot_token": "a", "secret_token": "has space")",
                "channels[1].secret_token", "A-Z"},
        BadCase{"BadApiBase", "", R"(}, {"id": "x4", "platform": "telegram", "bot_token": "a", "secret_token": "b", "api_base": "ftp://x")",
                "channels[1].api_base", "http"},
        BadCase{"BadChannelId", "", R"(}, {"id": "a/b", "platform": "telegram", "bot_token": "a", "secret_token": "b")",
                "channels[1].id", "letters"},
        BadCase{"BadRateLimit", "", R"(, "rate_limits": {"per_second": -1})", "channels[0].rate_limits.per_second",
                "between"},
        BadCase{"BadLogLevel", R"(, "logging": {"level": "loud"})", "", "logging.level", "one of"},
        BadCase{"BadOutbox", R"(, "outbox": {"max_attempts": 0})", "", "outbox.max_attempts", "between"},
        BadCase{"BadBodyLimit", R"(, "logging": {"json": "yes"})", "", "logging.json", "true or false"},
        BadCase{"NotSupportedYet", "", R"(}, {"id": "sl", "platform": "slack", "bot_token": "a", "signing_secret": "b")",
                "channels[1].platform", "not supported"}),
    [](const ::testing::TestParamInfo<BadCase>& i) { return std::string(i.param.name); });

TEST_F(ConfigTest, ReportsEveryProblem_NotJustTheFirst) {
    auto l = load(R"({
      "server": { "listen": "localhost", "threads": 0, "max_body_bytes": "lots" },
      "storage": { "url": "postgres://x" },
      "timezone": "Mars/Olympus",
      "templates_dir": ")" + templates_ + R"(",
      "admin_tokens": [ { "name": "a", "role": "god", "token": "short" }, { "name": "a", "role": "admin" } ],
      "channels": [ { "id": "t", "platform": "telegram", "bot_token": "${LH_TEST_UNSET}", "secret_token": "x" } ]
    })");
    EXPECT_FALSE(l.config);
    EXPECT_TRUE(has(l, "server.listen", "HOST:PORT")) << dump(l);
    EXPECT_TRUE(has(l, "server.threads", "between")) << dump(l);
    EXPECT_TRUE(has(l, "server.max_body_bytes", "integer")) << dump(l);
    EXPECT_TRUE(has(l, "storage.url", "sqlite: or mysql://")) << dump(l);
    EXPECT_TRUE(has(l, "timezone", "unknown time zone")) << dump(l);
    EXPECT_TRUE(has(l, "admin_tokens[0].role", "one of")) << dump(l);
    EXPECT_TRUE(has(l, "admin_tokens[0].token", "at least 16")) << dump(l);
    EXPECT_TRUE(has(l, "admin_tokens[1].name", "duplicate")) << dump(l);
    EXPECT_TRUE(has(l, "admin_tokens[1].token", "required")) << dump(l);
    EXPECT_TRUE(has(l, "channels[0].bot_token", "not set")) << dump(l);
    EXPECT_GE(l.problems.size(), 10u);
}

TEST_F(ConfigTest, RejectsMalformedJson_AndNonObjects) {
    auto a = load("{ \"storage\": ");
    EXPECT_FALSE(a.config);
    ASSERT_FALSE(a.problems.empty());
    EXPECT_NE(a.problems[0].message.find("not valid JSON"), std::string::npos);
    auto b = load("[1,2]");
    EXPECT_FALSE(b.config);
    auto c = load(R"({"server": {}})");
    EXPECT_TRUE(has(c, "storage", "required")) << dump(c);
}

TEST_F(ConfigTest, ValidatesTemplates_NamingFileAndField) {
    const auto tdir = dir_.path() / "tpl";
    std::filesystem::create_directories(tdir / "messages");
    std::ofstream(tdir / "messages" / "en.json") << R"({
      "welcome": { "text": "Hi {{name", "buttons": [[{"text": "A"}]] },
      "help": 42,
      "unsubscribed": "bye",
      "resubscribed": { "text": "back", "buttons": [[{"text": "x", "data": "d", "url": "http://u"}]] }
    })";
    auto l = load(R"({"storage": {"url": "sqlite::memory:"}, "templates_dir": "tpl"})");
    EXPECT_FALSE(l.config);
    EXPECT_TRUE(has(l, "tpl/messages/en.json: welcome.buttons[0][0].text", "") ||
                has(l, "tpl/messages/en.json: welcome.text", "placeholder") ||
                has(l, "tpl/messages/en.json: welcome.buttons[0][0]", "data or url"))
        << dump(l);
    EXPECT_TRUE(has(l, "tpl/messages/en.json: help", "string")) << dump(l);
    EXPECT_TRUE(has(l, "tpl/messages/en.json: resubscribed.buttons[0][0]", "exactly one")) << dump(l);
}

TEST_F(ConfigTest, RequiresTheBotBasicsInEveryLocale) {
    const auto tdir = dir_.path() / "tpl2";
    std::filesystem::create_directories(tdir / "messages");
    std::ofstream(tdir / "messages" / "fr.json") << R"({"welcome": "Salut {{name}}"})";
    auto l = load(R"({"storage": {"url": "sqlite::memory:"}, "templates_dir": "tpl2"})");
    EXPECT_FALSE(l.config);
    EXPECT_TRUE(has(l, "tpl2/messages/fr.json: help", "missing")) << dump(l);
    EXPECT_TRUE(has(l, "tpl2/messages/fr.json: unsubscribed", "missing")) << dump(l);
}

TEST_F(ConfigTest, TheShippedTemplatesAndDemoConfigAreValid) {
    ::setenv("LEADHATCH_ADMIN_TOKEN", "demo-admin-token-0123456789", 1);
    ::setenv("TG_TOKEN", "1:x", 1);
    ::setenv("TG_SECRET", "s", 1);
    ::setenv("TG_API_BASE", "https://api.telegram.org", 1);
    auto l = load_config(testing::source_dir() + "/deploy/config/demo.json");
    EXPECT_TRUE(l.config) << dump(l);
}

}  // namespace
}  // namespace leadhatch::bot
