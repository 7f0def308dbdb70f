// The admin REST API over real HTTP against the real binary, on SQLite and MariaDB: roles,
// pagination while rows are inserted, filters, stage rules, merge keeping history, erasure that
// leaves no personal data anywhere in the database, CSV export, funnel figures on a hand-built
// data set, and the OpenAPI document against the routes that exist.
#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>

#include <nlohmann/json.hpp>

#include <ctime>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "bot/admin_api.hpp"
#include "tests/support/fake_platform.hpp"
#include "tests/support/raw_http.hpp"
#include "tests/support/service_process.hpp"
#include "tests/support/e2e_backend.hpp"
#include "tests/support/test_db.hpp"

namespace leadhatch {
namespace {

// "P7": a display name with a number (built by append: GCC 12 warns on "P" + std::to_string).
std::string name_of(char prefix, int i) {
    std::string name(1, prefix);
    name += std::to_string(i);
    return name;
}

using namespace std::chrono_literals;
using nlohmann::json;
using testing::RawConn;
using testing::ServiceProcess;

constexpr const char* kAdmin = "admin-token-0123456789";
constexpr const char* kMarketer = "marketer-token-0123456789";
constexpr const char* kAlice = "alice-sales-token-0123456789";
constexpr const char* kBob = "bob-sales-token-0123456789";
constexpr const char* kSupport = "support-token-0123456789";
constexpr const char* kSecret = "admin-e2e-secret";

struct Reply {
    int status = 0;
    json body;
    std::string raw;
};

using testing::Backend;

class AdminApiE2E : public ::testing::TestWithParam<Backend> {
protected:
    void SetUp() override {
        auto url = testing::e2e_storage_url(GetParam(), dir_.path() / "api.db", mysql_);
        if (!url) return;
        storage_url_ = *url;
        fake_ = std::make_unique<testing::FakePlatform>(nullptr);
        const auto cfg = dir_.path() / "config.json";
        std::ofstream(cfg) << R"({
          "server": { "listen": "127.0.0.1:0", "threads": 2 },
          "storage": { "url": ")" << storage_url_ << R"(" },
          "templates_dir": ")" << testing::source_dir() << R"(/templates",
          "admin_tokens": [
            { "name": "ops", "role": "admin", "token": ")" << kAdmin << R"(" },
            { "name": "mia", "role": "marketer", "token": ")" << kMarketer << R"(" },
            { "name": "alice", "role": "sales", "token": ")" << kAlice << R"(" },
            { "name": "bob", "role": "sales", "token": ")" << kBob << R"(" },
            { "name": "sam", "role": "support", "token": ")" << kSupport << R"(" } ],
          "channels": [ { "id": "tg", "platform": "telegram", "bot_token": "1:x", "secret_token": ")" << kSecret
                        << R"(", "api_base": ")" << fake_->base_url() << R"(" } ]
        })";
        service_ = std::make_unique<ServiceProcess>(cfg.string());
        ASSERT_TRUE(service_->start()) << service_->logs();
    }

    void TearDown() override {
        if (service_ && service_->running()) {
            service_->signal(SIGTERM);
            service_->wait(10s);
        }
    }

    Reply call(const std::string& method, const std::string& target, const std::string& token,
               const std::string& body = {}) {
        std::string headers = token.empty() ? "" : "Authorization: Bearer " + token + "\r\n";
        if (!body.empty()) headers += "Content-Type: application/json\r\n";
        const auto raw = testing::http_request(service_->port(), method, target, body, headers);
        Reply r;
        r.status = RawConn::status_of(raw);
        r.raw = RawConn::body_of(raw);
        r.body = json::parse(r.raw, nullptr, false);
        return r;
    }

    // A person writes to the bot: a lead exists afterwards. Returns its id.
    std::int64_t lead_from(std::int64_t user_id, const std::string& name, const std::string& text = "hello") {
        static std::atomic<std::int64_t> update{1};
        json u{{"update_id", update++},
               {"message",
                {{"message_id", 1},
                 {"date", static_cast<std::int64_t>(std::time(nullptr))},
                 {"from", {{"id", user_id}, {"is_bot", false}, {"first_name", name}, {"language_code", "en"}}},
                 {"chat", {{"id", user_id}, {"type", "private"}}},
                 {"text", text}}}};
        const auto raw = testing::http_request(service_->port(), "POST", "/webhooks/tg", u.dump(),
                                               std::string("X-Telegram-Bot-Api-Secret-Token: ") + kSecret + "\r\n");
        EXPECT_EQ(RawConn::status_of(raw), 200);
        auto r = call("GET", "/api/v1/leads?channel=tg&external_user_id=" + std::to_string(user_id), kAdmin);
        EXPECT_EQ(r.status, 200) << r.raw;
        return r.body.value("id", std::int64_t{0});
    }

    Reply patch(std::int64_t id, const json& body, const std::string& token = kAdmin) {
        return call("PATCH", "/api/v1/leads/" + std::to_string(id), token, body.dump());
    }

    // Every text value in every table of the database, concatenated (for "is it gone" checks).
    std::string dump_database() {
        std::string out;
        if (GetParam() == Backend::kSqlite) {
            sqlite3* db = nullptr;
            sqlite3_open((dir_.path() / "api.db").c_str(), &db);
            std::vector<std::string> tables;
            sqlite3_exec(
                db, "SELECT name FROM sqlite_master WHERE type = 'table'",
                [](void* t, int, char** v, char**) {
                    static_cast<std::vector<std::string>*>(t)->push_back(v[0]);
                    return 0;
                },
                &tables, nullptr);
            for (const auto& t : tables) {
                sqlite3_exec(
                    db, ("SELECT * FROM " + t).c_str(),
                    [](void* o, int n, char** v, char**) {
                        for (int i = 0; i < n; ++i) {
                            if (v[i]) *static_cast<std::string*>(o) += std::string(v[i]) + "\n";
                        }
                        return 0;
                    },
                    &out, nullptr);
            }
            sqlite3_close(db);
        } else {
            out = mysql_->dump_all_text();
        }
        return out;
    }

    testing::TempDir dir_;
    std::unique_ptr<testing::MysqlTestDatabase> mysql_;
    std::string storage_url_;
    std::unique_ptr<testing::FakePlatform> fake_;
    std::unique_ptr<ServiceProcess> service_;
};

TEST_P(AdminApiE2E, RequiresAValidToken_AndEnforcesRoles) {
    const auto id = lead_from(1001, "Rolf");
    EXPECT_EQ(call("GET", "/api/v1/leads", "").status, 401);
    EXPECT_EQ(call("GET", "/api/v1/leads", "wrong-token-0123456789").status, 401);
    auto no_scheme = testing::http_request(service_->port(), "GET", "/api/v1/leads", "",
                                           std::string("Authorization: ") + kAdmin + "\r\n");
    EXPECT_EQ(RawConn::status_of(no_scheme), 401);
    EXPECT_EQ(call("GET", "/api/v1/leads", kAdmin).status, 200);
    EXPECT_EQ(call("GET", "/api/v1/leads", kSupport).status, 200);
    // support reads, never writes; marketers do not erase; sales do not read the funnel.
    const auto p = patch(id, {{"company", "X"}}, kSupport);
    EXPECT_EQ(p.status, 403);
    EXPECT_EQ(p.body["error"]["code"], "forbidden");
    EXPECT_EQ(call("DELETE", "/api/v1/leads/" + std::to_string(id), kMarketer).status, 403);
    EXPECT_EQ(call("GET", "/api/v1/funnel", kAlice).status, 403);
    EXPECT_EQ(call("GET", "/api/v1/leads/export.csv", kSupport).status, 403);
    EXPECT_EQ(call("GET", "/api/v1/outbox", kMarketer).status, 403);
    EXPECT_EQ(patch(id, {{"company", "Y"}}, kMarketer).status, 200);
    // Every write is an audit event with the token's name.
    auto ev = call("GET", "/api/v1/leads/" + std::to_string(id) + "/events", kAdmin);
    ASSERT_EQ(ev.status, 200);
    EXPECT_EQ(ev.body["items"][0]["kind"], "updated");
    EXPECT_EQ(ev.body["items"][0]["actor"], "api:mia");
}

TEST_P(AdminApiE2E, SalesSeeTheirOwnLeadsAndThePool) {
    const auto mine = lead_from(2001, "Mine");
    const auto theirs = lead_from(2002, "Theirs");
    const auto pool = lead_from(2003, "Pool");
    ASSERT_EQ(patch(mine, {{"owner", "alice"}}).status, 200);
    ASSERT_EQ(patch(theirs, {{"owner", "bob"}}).status, 200);
    auto list = call("GET", "/api/v1/leads", kAlice);
    ASSERT_EQ(list.status, 200);
    std::set<std::int64_t> seen;
    for (const auto& l : list.body["items"]) seen.insert(l["id"].get<std::int64_t>());
    EXPECT_EQ(seen, (std::set<std::int64_t>{mine, pool}));
    EXPECT_EQ(call("GET", "/api/v1/leads/" + std::to_string(theirs), kAlice).status, 404);
    EXPECT_EQ(patch(theirs, {{"stage", "identified"}}, kAlice).status, 404);
    // Sales move stages and claim from the pool, but only for themselves.
    EXPECT_EQ(patch(mine, {{"stage", "identified"}}, kAlice).status, 200);
    EXPECT_EQ(patch(pool, {{"owner", "bob"}}, kAlice).status, 403);
    EXPECT_EQ(patch(pool, {{"owner", "alice"}}, kAlice).status, 200);
    EXPECT_EQ(patch(pool, {{"company", "Acme"}}, kAlice).status, 403);
    EXPECT_EQ(call("GET", "/api/v1/leads?owner=bob", kAlice).status, 403);
}

TEST_P(AdminApiE2E, ValidatesInput_NamingTheField) {
    const auto id = lead_from(3001, "Val");
    auto check = [&](const json& body, const std::string& field, int status = 400) {
        auto r = patch(id, body);
        EXPECT_EQ(r.status, status) << body.dump() << " " << r.raw;
        EXPECT_EQ(r.body["error"]["field"], field) << r.raw;
    };
    check({{"colour", "red"}}, "colour");
    check({{"company_size", "big"}}, "company_size");
    check({{"company_size", -1}}, "company_size");
    check({{"email", "not-an-email"}}, "email");
    check({{"phone", "call me"}}, "phone");
    check({{"currency", "yuan"}}, "currency");
    check({{"custom_fields", "x"}}, "custom_fields");
    check({{"stage", "heaven"}}, "stage");
    check({{"tags", {""}}}, "tags");
    check({{"status", "vip"}}, "status");
    check({{"stage", "lost"}}, "stage", 409);  // lost needs a reason
    EXPECT_EQ(patch(id, {{"stage", "lost"}, {"reason", "budget cut"}}).status, 200);
    check({{"stage", "demo"}}, "stage", 409);  // out of lost only by reopening
    EXPECT_EQ(patch(id, {{"stage", "opportunity"}, {"reason", "new budget"}}).status, 200);
    auto bad_json = call("PATCH", "/api/v1/leads/" + std::to_string(id), kAdmin, "{oops");
    EXPECT_EQ(bad_json.status, 400);
    EXPECT_EQ(call("GET", "/api/v1/leads/999999", kAdmin).status, 404);
    EXPECT_EQ(call("GET", "/api/v1/leads/abc", kAdmin).status, 404);
    EXPECT_EQ(patch(999999, {{"company", "x"}}).status, 404);
    auto bad_filter = call("GET", "/api/v1/leads?grade=lukewarm", kAdmin);
    EXPECT_EQ(bad_filter.status, 400);
    EXPECT_EQ(bad_filter.body["error"]["field"], "grade");
    EXPECT_EQ(call("GET", "/api/v1/leads?created_from=yesterday", kAdmin).body["error"]["field"], "created_from");
    EXPECT_EQ(call("GET", "/api/v1/leads?cursor=%21%21", kAdmin).body["error"]["field"], "cursor");
    EXPECT_EQ(call("GET", "/api/v1/leads?limit=0", kAdmin).body["error"]["field"], "limit");
    // Stage history records the time in each stage.
    auto stages = call("GET", "/api/v1/leads/" + std::to_string(id) + "/stages", kAdmin);
    ASSERT_EQ(stages.status, 200);
    ASSERT_EQ(stages.body["items"].size(), 3u);
    EXPECT_EQ(stages.body["items"][1]["stage"], "lost");
    EXPECT_EQ(stages.body["items"][1]["reason"], "budget cut");
    EXPECT_FALSE(stages.body["items"][1]["left_at"].is_null());
}

TEST_P(AdminApiE2E, PaginatesWithACursor_ThatStaysCorrectWhileLeadsArrive) {
    std::set<std::int64_t> created;
    for (int i = 0; i < 25; ++i) created.insert(lead_from(4000 + i, name_of('P', i)));
    std::set<std::int64_t> seen;
    std::optional<std::string> cursor;
    int pages = 0;
    int arrived = 0;
    do {
        auto r = call("GET", "/api/v1/leads?limit=7" + (cursor ? "&cursor=" + *cursor : std::string()), kAdmin);
        ASSERT_EQ(r.status, 200) << r.raw;
        for (const auto& l : r.body["items"]) {
            EXPECT_TRUE(seen.insert(l["id"].get<std::int64_t>()).second) << "a lead came twice";
        }
        cursor = r.body["next_cursor"].is_null() ? std::nullopt
                                                 : std::optional<std::string>(r.body["next_cursor"].get<std::string>());
        // New leads arrive between pages: they are newer than the cursor and never shift it.
        lead_from(4500 + pages, "New" + std::to_string(pages));
        ++arrived;
        ++pages;
    } while (cursor && pages < 20);
    EXPECT_EQ(pages, 4);  // 25 leads, 7 a page
    EXPECT_EQ(seen, created);
    auto all = call("GET", "/api/v1/leads?limit=200", kAdmin);
    EXPECT_EQ(all.body["items"].size(), created.size() + static_cast<std::size_t>(arrived));
}

TEST_P(AdminApiE2E, FiltersLeads) {
    const auto a = lead_from(5001, "Alpha Zhang");
    const auto b = lead_from(5002, "Beta Li");
    const auto c = lead_from(5003, "Gamma Wang", "how much is the price? 价格");
    ASSERT_EQ(patch(a, {{"company", "Acme Finance"}, {"industry", "finance"}, {"company_size", 900},
                        {"owner", "alice"}, {"add_tags", {"vip", "expo"}}})
                  .status,
              200);
    ASSERT_EQ(patch(b, {{"company", "Bolt"}, {"company_size", 5}, {"stage", "demo"}, {"add_tags", {"expo"}}}).status,
              200);
    auto ids = [&](const std::string& q) {
        std::set<std::int64_t> out;
        auto r = call("GET", "/api/v1/leads?" + q, kAdmin);
        EXPECT_EQ(r.status, 200) << q << " " << r.raw;
        for (const auto& l : r.body["items"]) out.insert(l["id"].get<std::int64_t>());
        return out;
    };
    using S = std::set<std::int64_t>;
    EXPECT_EQ(ids("tag=expo"), (S{a, b}));
    EXPECT_EQ(ids("tag=vip"), (S{a}));
    EXPECT_EQ(ids("stage=demo"), (S{b}));
    EXPECT_EQ(ids("owner=alice"), (S{a}));
    EXPECT_EQ(ids("segment=finance"), (S{a}));
    EXPECT_EQ(ids("segment=household"), (S{b}));
    EXPECT_EQ(ids("q=acme"), (S{a}));  // company, case-insensitive
    EXPECT_EQ(ids("q=Wang"), (S{c}));  // name
    EXPECT_EQ(ids("channel=tg"), (S{a, b, c}));
    EXPECT_EQ(ids("channel=wx"), (S{}));
    EXPECT_EQ(ids("source=inbound"), (S{a, b, c}));
    EXPECT_EQ(ids("stage=demo&tag=expo"), (S{b}));
    EXPECT_EQ(ids("owner=alice&tag=expo"), (S{a}));
    EXPECT_EQ(ids("created_from=2000-01-01&created_to=2100-01-01"), (S{a, b, c}));
    EXPECT_EQ(ids("created_to=2000-01-01"), (S{}));
    // The keyword rule scored c: pricing interest shows in its score and explanation.
    auto score = call("GET", "/api/v1/leads/" + std::to_string(c) + "/score", kAdmin);
    ASSERT_EQ(score.status, 200);
    EXPECT_GT(score.body["score"].get<int>(), 0);
    bool pricing = false;
    for (const auto& e : score.body["explained"]["behavioral"]) pricing = pricing || e["rule"] == "pricing_keyword";
    EXPECT_TRUE(pricing) << score.raw;
}

TEST_P(AdminApiE2E, MergesTwoLeads_KeepingEveryHistory) {
    const auto a = lead_from(6001, "Ann", "first message");
    const auto b = lead_from(6002, "Ann Phone", "second person, really the same");
    ASSERT_EQ(patch(a, {{"add_tags", {"from-a"}}, {"company", "Acme"}}).status, 200);
    ASSERT_EQ(patch(b, {{"add_tags", {"from-b"}}, {"email", "ann@example.com"}}).status, 200);
    const auto events_b = call("GET", "/api/v1/leads/" + std::to_string(b) + "/events?limit=100", kAdmin);
    const auto n_b = events_b.body["items"].size();
    const auto events_a = call("GET", "/api/v1/leads/" + std::to_string(a) + "/events?limit=100", kAdmin);
    const auto n_a = events_a.body["items"].size();
    auto m = call("POST", "/api/v1/leads/" + std::to_string(b) + "/merge", kMarketer,
                  json{{"into", a}, {"reason", "same person"}}.dump());
    ASSERT_EQ(m.status, 200) << m.raw;
    EXPECT_EQ(m.body["id"], a);
    EXPECT_EQ(m.body["email"], "ann@example.com");  // filled from the source
    EXPECT_EQ(m.body["company"], "Acme");           // the target's own value stays
    EXPECT_EQ(m.body["tags"], (json{"from-a", "from-b"}));
    EXPECT_EQ(m.body["identities"].size(), 2u);
    // Every identity points at the survivor; the timeline holds both, plus the merge.
    auto via_b = call("GET", "/api/v1/leads?channel=tg&external_user_id=6002", kAdmin);
    EXPECT_EQ(via_b.body["id"], a);
    auto events = call("GET", "/api/v1/leads/" + std::to_string(a) + "/events?limit=200", kAdmin);
    std::set<std::int64_t> merged_ids;
    bool merged_event = false;
    for (const auto& e : events.body["items"]) {
        merged_ids.insert(e["id"].get<std::int64_t>());
        merged_event = merged_event || (e["kind"] == "merged" && e["data"]["source"] == b);
    }
    EXPECT_TRUE(merged_event);
    for (const auto* before : {&events_a, &events_b}) {
        for (const auto& e : before->body["items"]) {
            EXPECT_TRUE(merged_ids.count(e["id"].get<std::int64_t>())) << "lost event " << e.dump();
        }
    }
    EXPECT_GE(merged_ids.size(), n_a + n_b + 1);
    // The merged lead is gone from lists, and its page says where it went.
    auto gone = call("GET", "/api/v1/leads/" + std::to_string(b), kAdmin);
    EXPECT_EQ(gone.body["merged_into"], a);
    auto list = call("GET", "/api/v1/leads", kAdmin);
    for (const auto& l : list.body["items"]) EXPECT_NE(l["id"], b);
    auto merges = call("GET", "/api/v1/merges", kAdmin);
    ASSERT_EQ(merges.body["items"].size(), 1u);
    EXPECT_EQ(merges.body["items"][0]["source"], b);
    EXPECT_EQ(merges.body["items"][0]["actor"], "api:mia");
    // Merging again, or into a merged lead, is a conflict.
    EXPECT_EQ(call("POST", "/api/v1/leads/" + std::to_string(b) + "/merge", kAdmin, json{{"into", a}}.dump()).status,
              409);
    EXPECT_EQ(call("POST", "/api/v1/leads/" + std::to_string(a) + "/merge", kAdmin, json{{"into", a}}.dump()).status,
              409);
}

TEST_P(AdminApiE2E, MergesAutomatically_OnTheSameVerifiedPhone) {
    const auto older = lead_from(6101, "Old");
    const auto newer = lead_from(6102, "New");
    ASSERT_EQ(patch(older, {{"phone", "+86 138 0000 1111"}, {"phone_verified", true}}).status, 200);
    auto r = patch(newer, {{"phone", "+86 138 0000 1111"}, {"phone_verified", true}});
    ASSERT_EQ(r.status, 200) << r.raw;
    EXPECT_EQ(r.body["id"], older);  // the older lead survives
    EXPECT_EQ(call("GET", "/api/v1/leads/" + std::to_string(newer), kAdmin).body["merged_into"], older);
}

TEST_P(AdminApiE2E, Erase_RemovesPersonalDataEverywhere_AndKeepsCounts) {
    const std::string name = "Zhuzhu Uniquename";
    const std::string phone = "+8613912345678";
    const std::string secret_text = "my private message 8675309";
    const auto id = lead_from(7001, name, secret_text);
    lead_from(7002, "Someone Else");
    ASSERT_EQ(patch(id, {{"phone", phone}, {"email", "zhuzhu@example.org"}, {"company", "Zhuzhu Trading"},
                         {"notes", "called about 8675309"}})
                  .status,
              200);
    const auto before = call("GET", "/api/v1/funnel", kAdmin).body["total"];
    {
        const auto dump = dump_database();
        ASSERT_NE(dump.find(name), std::string::npos);  // the check can see it before
        ASSERT_NE(dump.find("8675309"), std::string::npos);
    }
    auto r = call("DELETE", "/api/v1/leads/" + std::to_string(id), kAdmin);
    ASSERT_EQ(r.status, 200) << r.raw;
    const auto dump = dump_database();
    EXPECT_EQ(dump.find(name), std::string::npos);
    EXPECT_EQ(dump.find("Zhuzhu"), std::string::npos);
    EXPECT_EQ(dump.find(phone), std::string::npos);
    EXPECT_EQ(dump.find("zhuzhu@example.org"), std::string::npos);
    EXPECT_EQ(dump.find("8675309"), std::string::npos);
    // The welcome reply went to the user's chat id; it is gone too.
    EXPECT_EQ(dump.find("\"chat_id\":\"7001\""), std::string::npos);
    EXPECT_NE(dump.find("Someone Else"), std::string::npos);  // others untouched
    // Counts in analytics stay.
    EXPECT_EQ(call("GET", "/api/v1/funnel", kAdmin).body["total"], before);
    auto lead = call("GET", "/api/v1/leads/" + std::to_string(id), kAdmin);
    EXPECT_FALSE(lead.body["erased_at"].is_null());
    EXPECT_EQ(lead.body["identities"].size(), 0u);
    auto events = call("GET", "/api/v1/leads/" + std::to_string(id) + "/events?limit=100", kAdmin);
    EXPECT_GT(events.body["items"].size(), 2u);  // the timeline's shape is kept
    // Erased leads cannot be edited.
    EXPECT_EQ(patch(id, {{"company", "back"}}).status, 409);
    EXPECT_EQ(call("DELETE", "/api/v1/leads/999999", kAdmin).status, 404);
}

TEST_P(AdminApiE2E, ExportsCsv_InChunks) {
    for (int i = 0; i < 30; ++i) lead_from(8000 + i, i == 3 ? "=HYPERLINK(\"x\")" : "Csv, \"quoted\" " + std::to_string(i));
    const auto raw = testing::http_request(service_->port(), "GET", "/api/v1/leads/export.csv", "",
                                           std::string("Authorization: Bearer ") + kMarketer + "\r\n");
    ASSERT_EQ(RawConn::status_of(raw), 200) << raw.substr(0, 300);
    EXPECT_NE(RawConn::lower(raw).find("transfer-encoding: chunked"), std::string::npos);
    EXPECT_NE(RawConn::lower(raw).find("content-type: text/csv"), std::string::npos);
    // De-chunk.
    std::string body = RawConn::body_of(raw);
    std::string csv;
    for (std::size_t pos = 0;;) {
        const auto eol = body.find("\r\n", pos);
        ASSERT_NE(eol, std::string::npos);
        const auto size = std::stoul(body.substr(pos, eol - pos), nullptr, 16);
        if (size == 0) break;
        csv += body.substr(eol + 2, size);
        pos = eol + 2 + size + 2;
    }
    ASSERT_EQ(csv.substr(0, 3), "\xEF\xBB\xBF");
    std::size_t lines = 0;
    for (std::size_t p = 0; (p = csv.find("\r\n", p)) != std::string::npos; p += 2) ++lines;
    EXPECT_EQ(lines, 31u);  // header + 30 leads
    EXPECT_NE(csv.find("\"Csv, \"\"quoted\"\" 7\""), std::string::npos);
    EXPECT_NE(csv.find("\"'=HYPERLINK(\"\"x\"\")\""), std::string::npos);  // formula neutralised
}

TEST_P(AdminApiE2E, ComputesTheFunnel_OnAHandBuiltDataSet) {
    // 10 leads: 4 stay in opportunity, 6 move on; of those 4 reach demo, 2 negotiation, 1 won,
    // 1 lost from demo. Deal values on the open ones.
    std::vector<std::int64_t> ids;
    for (int i = 0; i < 10; ++i) ids.push_back(lead_from(9000 + i, name_of('F', i)));
    auto move = [&](std::int64_t id, std::vector<std::string> stages) {
        for (const auto& s : stages) {
            json body{{"stage", s}};
            if (s == "lost") body["reason"] = "no budget";
            ASSERT_EQ(patch(id, body).status, 200) << s;
        }
    };
    move(ids[4], {"identified"});
    move(ids[5], {"identified"});
    move(ids[6], {"identified", "demo"});
    move(ids[7], {"identified", "demo", "lost"});
    move(ids[8], {"identified", "demo", "decision_maker", "negotiation"});
    move(ids[9], {"identified", "demo", "decision_maker", "negotiation", "contract", "won"});
    ASSERT_EQ(patch(ids[6], {{"deal_value", 100000}, {"currency", "CNY"}}).status, 200);  // demo 30%
    ASSERT_EQ(patch(ids[8], {{"deal_value", 200000}, {"currency", "CNY"}}).status, 200);  // negotiation 70%
    ASSERT_EQ(patch(ids[5], {{"deal_value", 5000}, {"currency", "USD"}}).status, 200);    // identified 10%
    ASSERT_EQ(patch(ids[9], {{"deal_value", 900000}, {"currency", "CNY"}}).status, 200);  // won: not open
    auto f = call("GET", "/api/v1/funnel", kMarketer);
    ASSERT_EQ(f.status, 200) << f.raw;
    EXPECT_EQ(f.body["total"], 10);
    auto stage = [&](const std::string& id) {
        for (const auto& s : f.body["stages"]) {
            if (s["id"] == id) return s;
        }
        return json();
    };
    EXPECT_EQ(stage("opportunity")["count"], 4);
    EXPECT_EQ(stage("identified")["count"], 2);
    EXPECT_EQ(stage("demo")["count"], 1);
    EXPECT_EQ(stage("negotiation")["count"], 1);
    EXPECT_EQ(stage("won")["count"], 1);
    EXPECT_EQ(stage("lost")["count"], 1);
    EXPECT_EQ(stage("opportunity")["reached"], 10);
    EXPECT_EQ(stage("identified")["reached"], 6);
    EXPECT_EQ(stage("demo")["reached"], 4);  // the lost one reached demo
    EXPECT_EQ(stage("negotiation")["reached"], 2);
    EXPECT_EQ(stage("won")["reached"], 1);
    EXPECT_DOUBLE_EQ(stage("identified")["conversion_from_previous"].get<double>(), 0.6);
    EXPECT_DOUBLE_EQ(stage("demo")["conversion_from_previous"].get<double>(), 0.6667);
    EXPECT_DOUBLE_EQ(stage("decision_maker")["conversion_from_previous"].get<double>(), 0.5);
    EXPECT_EQ(stage("identified")["probability"], 10);
    EXPECT_FALSE(stage("identified")["median_seconds_in_stage"].is_null());  // 4 leads left identified
    EXPECT_EQ(f.body["statuses"]["customer"], 1);  // won made a customer
    // Weighted pipeline: CNY 100000*30% + 200000*70% = 170000 over 300000 open; USD 5000*10%.
    ASSERT_EQ(f.body["pipeline"].size(), 2u);
    EXPECT_EQ(f.body["pipeline"][0]["currency"], "CNY");
    EXPECT_EQ(f.body["pipeline"][0]["open_value"], 300000);
    EXPECT_EQ(f.body["pipeline"][0]["weighted_value"], 170000.0);
    EXPECT_EQ(f.body["pipeline"][1]["currency"], "USD");
    EXPECT_EQ(f.body["pipeline"][1]["weighted_value"], 500.0);
    // Filters.
    EXPECT_EQ(call("GET", "/api/v1/funnel?source=referral", kAdmin).body["total"], 0);
    EXPECT_EQ(call("GET", "/api/v1/funnel?channel=tg", kAdmin).body["total"], 10);
    EXPECT_EQ(call("GET", "/api/v1/funnel?to=2000-01-01", kAdmin).body["total"], 0);
}

TEST_P(AdminApiE2E, ServesTheOpenApiDocument_ThatMatchesTheRoutes) {
    auto r = call("GET", "/api/v1/openapi.json", "");
    ASSERT_EQ(r.status, 200);
    ASSERT_TRUE(r.body.is_object());
    EXPECT_EQ(r.body["openapi"].get<std::string>().substr(0, 2), "3.");
    std::set<std::pair<std::string, std::string>> documented;
    for (const auto& [path, ops] : r.body["paths"].items()) {
        for (const auto& [method, op] : ops.items()) {
            std::string m = method;
            for (auto& ch : m) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
            documented.insert({m, path});
        }
    }
    std::set<std::pair<std::string, std::string>> served;
    for (const auto& [method, path] : bot::AdminApi::routes()) served.insert({method, path});
    EXPECT_EQ(documented, served);
    // And the routes really answer (not 404/405): an unauthenticated call gets 401.
    for (const auto& [method, path] : served) {
        if (path == "/api/v1/openapi.json") continue;
        std::string target = path;
        if (auto p = target.find("{id}"); p != std::string::npos) target.replace(p, 4, "1");
        const auto status = call(method, target, "").status;
        EXPECT_EQ(status, 401) << method << " " << target;
    }
}

INSTANTIATE_TEST_SUITE_P(Backends, AdminApiE2E, ::testing::Values(Backend::kSqlite, Backend::kMysql),
                         testing::backend_name);

}  // namespace
}  // namespace leadhatch
