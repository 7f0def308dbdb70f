// Admin API benchmark: a large data set (default 1,000,000 leads and 10,000,000 events), then the
// real leadhatch binary serving it, measured over HTTP on 127.0.0.1:
//   - filtered lead lists (p50 / p99 per filter),
//   - the funnel (median / max),
//   - a full CSV export (rows/s, MB/s, the service's peak RSS before and after).
//
//   admin_bench --backend sqlite|mysql [--leads N] [--events-per-lead K] [--workdir DIR] [--reuse]
//
// MySQL uses LEADHATCH_TEST_MYSQL_URL (tests/bench/admin_load.sh starts a MariaDB when unset):
// a fresh database is made there, or with --reuse the URL's database already holds the data set
// (as --reuse does with the SQLite file in --workdir).
// The data is written with raw multi-row SQL (a bench may speak the dialect; the service never
// sees how its tables were filled).
#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "adapters/storage/storage_factory.hpp"
#include "core/leads/referral.hpp"
#include "tests/support/raw_http.hpp"
#include "tests/support/service_process.hpp"
#include "tests/support/test_db.hpp"

namespace {

using namespace leadhatch;
using Clock = std::chrono::steady_clock;

struct Options {
    std::string backend = "sqlite";
    std::int64_t leads = 1'000'000;
    int events_per_lead = 10;
    std::string workdir = "/tmp/leadhatch-admin-bench";
    bool reuse = false;
};

constexpr const char* kToken = "bench-admin-token-0123456789";

const char* kStages[] = {"opportunity", "identified", "demo", "decision_maker", "negotiation", "contract", "won", "lost"};
const int kStageProb[] = {0, 10, 30, 50, 70, 90, 100, 0};
const char* kSurnames[] = {"Zhang", "Li", "Wang", "Liu", "Chen", "Yang", "Huang", "Zhao", "Wu", "Zhou"};
const char* kIndustries[] = {"software", "finance", "retail", "education", "manufacturing", "healthcare"};
const char* kSources[] = {"inbound", "campaign", "referral", "outbound"};

struct Row {
    std::int64_t id;
    std::string name;
    std::string company;
    std::string industry;
    std::int64_t size;
    int stage;
    std::string status;
    std::string grade;
    std::int64_t score;
    std::string owner;
    std::string segment;
    std::string source;
    std::string campaign;
    std::int64_t created;
    std::optional<std::int64_t> deal;
    bool vip, expo;
};

Row make_row(std::int64_t id, std::mt19937_64& rng, std::int64_t now_ms) {
    Row r;
    r.id = id;
    r.name = std::string("User") + std::to_string(id) + " " + kSurnames[rng() % 10];
    r.company = "Company " + std::to_string(rng() % 50000);
    r.industry = kIndustries[rng() % 6];
    r.size = static_cast<std::int64_t>(rng() % 2000);
    const auto p = rng() % 100;
    r.stage = p < 60 ? 0 : p < 75 ? 1 : p < 85 ? 2 : p < 90 ? 3 : p < 93 ? 4 : p < 95 ? 5 : p < 97 ? 6 : 7;
    r.score = static_cast<std::int64_t>(rng() % 100);
    r.grade = r.score >= 60 ? "hot" : r.score >= 30 ? "warm" : "cold";
    r.status = r.stage == 6 ? "customer" : r.score >= 80 ? "sql" : r.score >= 40 ? "mql" : "engaged";
    r.owner = r.stage == 0 ? "" : "rep" + std::to_string(rng() % 20);
    r.segment = r.industry == std::string("finance") ? "finance"
                : r.size >= 500                      ? "enterprise"
                : r.size >= 10                       ? "small_business"
                                                     : "household";
    r.source = kSources[rng() % 4];
    r.campaign = r.source == std::string("campaign") ? "spring" + std::to_string(rng() % 5) : "";
    r.created = now_ms - static_cast<std::int64_t>(rng() % (365LL * 86'400'000));
    if (r.stage >= 2 && r.stage <= 5) r.deal = static_cast<std::int64_t>(rng() % 1'000'000) * 100;
    r.vip = rng() % 100 < 2;
    r.expo = rng() % 100 < 30;
    return r;
}

// ---- writers --------------------------------------------------------------------------------

class Writer {
public:
    virtual ~Writer() = default;
    virtual void begin() = 0;
    virtual void commit() = 0;
    virtual void leads(const std::vector<Row>& rows) = 0;
    virtual void events(const std::vector<Row>& rows, int per_lead, std::int64_t& next_event) = 0;
};

std::string sql_quote(const std::string& s) {
    std::string out = "'";
    for (char c : s) {
        if (c == '\'') out += '\'';
        if (c == '\\') out += '\\';
        out += c;
    }
    return out + "'";
}

// Builds the same multi-row statements for both dialects (values are ours: plain ASCII).
struct SqlBatches {
    static std::string leads(const std::vector<Row>& rows) {
        std::string q =
            "INSERT INTO leads (id, display_name, username, company, industry, company_size, stage, max_stage_index, "
            "status, lifecycle, segment, score, grade, owner, deal_value, currency, source_kind, source_channel, "
            "source_campaign, referral_code, stage_changed_at, created_at, updated_at, last_seen_at, score_at) VALUES ";
        bool first = true;
        for (const auto& r : rows) {
            q += first ? "(" : ",(";
            first = false;
            const int max_idx = r.stage == 7 ? 2 : r.stage;
            const char* lifecycle = r.stage == 7 ? "lost" : r.status == "customer" ? "retention"
                                                        : r.stage > 0               ? "development"
                                                                                    : "acquisition";
            q += std::to_string(r.id) + "," + sql_quote(r.name) + ",'u" + std::to_string(r.id) + "'," +
                 sql_quote(r.company) + "," + sql_quote(r.industry) + "," + std::to_string(r.size) + ",'" +
                 kStages[r.stage] + "'," + std::to_string(max_idx) + ",'" + r.status + "','" + lifecycle + "','" +
                 r.segment + "'," + std::to_string(r.score) + ",'" + r.grade + "'," + sql_quote(r.owner) + "," +
                 (r.deal ? std::to_string(*r.deal) : "NULL") + ",'" + (r.deal ? "CNY" : "") + "','" + r.source +
                 "','tg'," + sql_quote(r.campaign) + ",'" + core::referral_code(core::LeadId{r.id}) + "'," +
                 std::to_string(r.created) + "," + std::to_string(r.created) + "," + std::to_string(r.created) + "," +
                 std::to_string(r.created) + "," + std::to_string(r.created) + ")";
        }
        return q;
    }
    static std::string identities(const std::vector<Row>& rows) {
        std::string q = "INSERT INTO lead_identities (channel_id, external_user_id, lead_id, display_name, "
                        "created_at, updated_at) VALUES ";
        bool first = true;
        for (const auto& r : rows) {
            q += (first ? "('tg','" : ",('tg','") + std::to_string(900000000 + r.id) + "'," + std::to_string(r.id) +
                 "," + sql_quote(r.name) + "," + std::to_string(r.created) + "," + std::to_string(r.created) + ")";
            first = false;
        }
        return q;
    }
    static std::string tags(const std::vector<Row>& rows) {
        std::string q = "INSERT INTO lead_tags (lead_id, tag, created_at) VALUES ";
        bool any = false;
        for (const auto& r : rows) {
            if (r.vip) {
                q += (any ? ",(" : "(") + std::to_string(r.id) + ",'vip'," + std::to_string(r.created) + ")";
                any = true;
            }
            if (r.expo) {
                q += (any ? ",(" : "(") + std::to_string(r.id) + ",'expo'," + std::to_string(r.created) + ")";
                any = true;
            }
        }
        return any ? q : std::string{};
    }
    static std::string stages(const std::vector<Row>& rows) {
        std::string q = "INSERT INTO stage_history (lead_id, stage, entered_at, left_at, duration_ms, actor, reason, "
                        "lead_created_at, source_kind, source_channel) VALUES ";
        bool first = true;
        for (const auto& r : rows) {
            const int last = r.stage == 7 ? 3 : r.stage;  // lost after demo
            std::int64_t t = r.created;
            for (int s = 0; s <= last; ++s) {
                const int stage = (r.stage == 7 && s == 3) ? 7 : s;
                const bool open = s == last;
                const std::int64_t dur = 3'600'000LL * (1 + (r.id * (s + 7)) % 200);
                q += (first ? "(" : ",(") + std::to_string(r.id) + ",'" + kStages[stage] + "'," + std::to_string(t) +
                     "," + (open ? "NULL" : std::to_string(t + dur)) + "," + (open ? "NULL" : std::to_string(dur)) +
                     ",'system',''," +
                     (open ? "NULL,NULL,NULL" : std::to_string(r.created) + ",'" + r.source + "','tg'") + ")";
                first = false;
                t += dur;
            }
        }
        return q;
    }
    static std::string events(const std::vector<Row>& rows, int per_lead) {
        std::string q = "INSERT INTO events (lead_id, channel_id, kind, actor, occurred_at, recorded_at, data) VALUES ";
        bool first = true;
        for (const auto& r : rows) {
            for (int e = 0; e < per_lead; ++e) {
                const auto at = std::to_string(r.created + e * 60'000);
                q += (first ? "(" : ",(") + std::to_string(r.id) + ",'tg','message','user'," + at + "," + at +
                     ",'{\"text\":\"hello, what is the price for " + std::to_string(e + 1) + " seats?\"}')";
                first = false;
            }
        }
        return q;
    }
};

class SqliteWriter final : public Writer {
public:
    explicit SqliteWriter(const std::string& path) {
        sqlite3_open(path.c_str(), &db_);
        exec("PRAGMA journal_mode=WAL");
        exec("PRAGMA synchronous=OFF");  // bulk load only
    }
    ~SqliteWriter() override { sqlite3_close(db_); }
    void exec(const std::string& q) {
        char* err = nullptr;
        if (sqlite3_exec(db_, q.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
            std::fprintf(stderr, "sqlite: %s\n", err ? err : "?");
            std::exit(1);
        }
    }
    void begin() override { exec("BEGIN"); }
    void commit() override { exec("COMMIT"); }
    void leads(const std::vector<Row>& rows) override {
        exec(SqlBatches::leads(rows));
        exec(SqlBatches::identities(rows));
        if (auto t = SqlBatches::tags(rows); !t.empty()) exec(t);
        exec(SqlBatches::stages(rows));
    }
    void events(const std::vector<Row>& rows, int per_lead, std::int64_t&) override {
        exec(SqlBatches::events(rows, per_lead));
    }

private:
    sqlite3* db_ = nullptr;
};

class MysqlWriter final : public Writer {
public:
    explicit MysqlWriter(testing::MysqlTestDatabase& db) : db_(db) {}
    void begin() override {}
    void commit() override {}
    void leads(const std::vector<Row>& rows) override {
        db_.execute(SqlBatches::leads(rows));
        db_.execute(SqlBatches::identities(rows));
        if (auto t = SqlBatches::tags(rows); !t.empty()) db_.execute(t);
        db_.execute(SqlBatches::stages(rows));
    }
    void events(const std::vector<Row>& rows, int per_lead, std::int64_t&) override {
        db_.execute(SqlBatches::events(rows, per_lead));
    }

private:
    testing::MysqlTestDatabase& db_;
};

// ---- measuring ----------------------------------------------------------------------------

double ms_since(Clock::time_point t0) { return std::chrono::duration<double, std::milli>(Clock::now() - t0).count(); }

struct Stats {
    double p50 = 0, p99 = 0, max = 0;
};

Stats stats(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    Stats s;
    if (v.empty()) return s;
    s.p50 = v[v.size() / 2];
    s.p99 = v[std::min(v.size() - 1, static_cast<std::size_t>(static_cast<double>(v.size()) * 0.99))];
    s.max = v.back();
    return s;
}

long rss_kb(int pid, const char* field) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind(field, 0) == 0) return std::atol(line.c_str() + std::strlen(field));
    }
    return -1;
}

}  // namespace

int main(int argc, char** argv) {
    Options o;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        auto next = [&] { return i + 1 < argc ? std::string(argv[++i]) : std::string(); };
        if (a == "--backend") o.backend = next();
        else if (a == "--leads") o.leads = std::stoll(next());
        else if (a == "--events-per-lead") o.events_per_lead = std::stoi(next());
        else if (a == "--workdir") o.workdir = next();
        else if (a == "--reuse") o.reuse = true;
        else {
            std::fprintf(stderr, "usage: admin_bench --backend sqlite|mysql [--leads N] [--events-per-lead K] "
                                 "[--workdir DIR] [--reuse]\n");
            return 2;
        }
    }
    std::filesystem::create_directories(o.workdir);
    std::unique_ptr<testing::MysqlTestDatabase> mysql;
    std::string url;
    if (o.backend == "mysql") {
        auto base = testing::mysql_url();
        if (!base) {
            std::fprintf(stderr, "set LEADHATCH_TEST_MYSQL_URL (tests/bench/admin_load.sh does)\n");
            return 2;
        }
        if (o.reuse) {
            url = *base;  // the database named there already holds the data set
        } else {
            mysql = std::make_unique<testing::MysqlTestDatabase>(*base);
            url = mysql->url();
        }
    } else {
        url = "sqlite:" + o.workdir + "/admin-bench.db";
        if (!o.reuse) {
            std::filesystem::remove(o.workdir + "/admin-bench.db");
            std::filesystem::remove(o.workdir + "/admin-bench.db-wal");
            std::filesystem::remove(o.workdir + "/admin-bench.db-shm");
        }
    }
    if (!o.reuse) {
        auto parsed = adapters::storage::parse_storage_url(url, o.workdir);
        adapters::storage::make_storage(*parsed, {})->migrate();
        std::unique_ptr<Writer> w;
        if (mysql) w = std::make_unique<MysqlWriter>(*mysql);
        else w = std::make_unique<SqliteWriter>(o.workdir + "/admin-bench.db");
        std::mt19937_64 rng(42);
        const auto now_ms =
            std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
                .count();
        const auto t0 = Clock::now();
        constexpr std::int64_t kBatch = 2000;
        std::int64_t next_event = 1;
        for (std::int64_t start = 1; start <= o.leads; start += kBatch) {
            std::vector<Row> rows;
            for (std::int64_t id = start; id < std::min(o.leads + 1, start + kBatch); ++id) rows.push_back(make_row(id, rng, now_ms));
            w->begin();
            w->leads(rows);
            for (std::size_t off = 0; off < rows.size(); off += 500) {
                std::vector<Row> part(rows.begin() + static_cast<std::ptrdiff_t>(off),
                                      rows.begin() + static_cast<std::ptrdiff_t>(std::min(rows.size(), off + 500)));
                w->events(part, o.events_per_lead, next_event);
            }
            w->commit();
            if ((start / kBatch) % 50 == 0) std::fprintf(stderr, "\r  generated %lld leads", static_cast<long long>(start));
        }
        if (mysql) mysql->execute("ANALYZE TABLE leads, lead_tags, stage_history, lead_identities");
        std::fprintf(stderr, "\r  generated %lld leads and %lld events in %.0f s\n", static_cast<long long>(o.leads),
                     static_cast<long long>(o.leads * o.events_per_lead), ms_since(t0) / 1000);
    }

    // The real service over the data.
    const auto cfg = o.workdir + "/config.json";
    std::ofstream(cfg) << R"({ "server": { "listen": "127.0.0.1:0", "threads": 2 },
        "storage": { "url": ")" << url << R"(", "pool_size": 4 },
        "templates_dir": ")" << testing::source_dir() << R"(/templates", "logging": { "level": "info" },
        "admin_tokens": [ { "name": "bench", "role": "admin", "token": ")" << kToken << R"(" } ] })";
    testing::ServiceProcess svc(cfg);
    if (!svc.start(std::chrono::minutes(5))) {
        std::fprintf(stderr, "service did not start:\n%s\n", svc.logs().c_str());
        return 1;
    }
    int pid = -1;
    {
        // The child's pid: the newest leadhatch process listening is ours; read it from /proc.
        const std::string port = std::to_string(svc.port());
        for (const auto& e : std::filesystem::directory_iterator("/proc")) {
            const auto name = e.path().filename().string();
            if (name.find_first_not_of("0123456789") != std::string::npos) continue;
            std::ifstream cmd(e.path() / "cmdline");
            std::string c((std::istreambuf_iterator<char>(cmd)), std::istreambuf_iterator<char>());
            if (c.find(cfg) != std::string::npos) pid = std::stoi(name);
        }
    }
    const std::string auth = std::string("Authorization: Bearer ") + kToken + "\r\n";
    auto get = [&](const std::string& target, double& ms) {
        const auto t0 = Clock::now();
        auto r = testing::http_request(svc.port(), "GET", target, "", auth, std::chrono::minutes(5));
        ms = ms_since(t0);
        return r;
    };
    std::printf("backend=%s leads=%lld events=%lld\n", o.backend.c_str(), static_cast<long long>(o.leads),
                static_cast<long long>(o.leads * o.events_per_lead));
    const std::vector<std::pair<const char*, std::string>> filters{
        {"newest 50", "/api/v1/leads?limit=50"},
        {"stage=demo", "/api/v1/leads?stage=demo&limit=50"},
        {"status=sql", "/api/v1/leads?status=sql&limit=50"},
        {"grade=hot", "/api/v1/leads?grade=hot&limit=50"},
        {"owner=rep7", "/api/v1/leads?owner=rep7&limit=50"},
        {"segment=enterprise", "/api/v1/leads?segment=enterprise&limit=50"},
        {"source=referral", "/api/v1/leads?source=referral&limit=50"},
        {"tag=vip", "/api/v1/leads?tag=vip&limit=50"},
        {"stage+owner", "/api/v1/leads?stage=negotiation&owner=rep3&limit=50"},
        {"created last 30d", "/api/v1/leads?created_from=" + core::format_iso8601(core::from_epoch_ms(
                                 std::chrono::duration_cast<std::chrono::milliseconds>(
                                     std::chrono::system_clock::now().time_since_epoch()).count() - 30LL * 86'400'000)) + "&limit=50"},
        {"text q=Zhang", "/api/v1/leads?q=Zhang&limit=50"},
        {"lookup identity", "/api/v1/leads?channel=tg&external_user_id=" + std::to_string(900000000 + o.leads / 2)},
        {"timeline", "/api/v1/leads/" + std::to_string(o.leads / 3) + "/events?limit=50"},
    };
    std::vector<double> all;
    for (const auto& [name, target] : filters) {
        std::vector<double> times;
        for (int i = 0; i < 60; ++i) {
            double ms = 0;
            auto r = get(target, ms);
            if (testing::RawConn::status_of(r) != 200) {
                const auto logs = svc.logs();
                std::fprintf(stderr, "%s: %s\nservice log (end):\n%s\n", name, r.substr(0, 300).c_str(),
                             logs.substr(logs.size() > 2000 ? logs.size() - 2000 : 0).c_str());
                return 1;
            }
            if (i >= 10) times.push_back(ms);  // the first ten warm the caches
        }
        auto s = stats(times);
        all.insert(all.end(), times.begin(), times.end());
        std::printf("  list %-20s p50 %7.2f ms  p99 %7.2f ms\n", name, s.p50, s.p99);
    }
    auto sa = stats(all);
    std::printf("  list (all filters)         p50 %7.2f ms  p99 %7.2f ms\n", sa.p50, sa.p99);
    {
        std::vector<double> times;
        for (int i = 0; i < 6; ++i) {
            double ms = 0;
            get("/api/v1/funnel", ms);
            if (i >= 1) times.push_back(ms);
        }
        auto s = stats(times);
        std::printf("  funnel (all leads)         median %7.1f ms  max %7.1f ms\n", s.p50, s.max);
        times.clear();
        for (int i = 0; i < 6; ++i) {
            double ms = 0;
            get("/api/v1/funnel?source=campaign&from=2000-01-01", ms);
            if (i >= 1) times.push_back(ms);
        }
        s = stats(times);
        std::printf("  funnel (source, period)    median %7.1f ms  max %7.1f ms\n", s.p50, s.max);
    }
    {
        const long before = pid > 0 ? rss_kb(pid, "VmHWM:") : -1;
        double ms = 0;
        auto r = get("/api/v1/leads/export.csv", ms);
        const long after = pid > 0 ? rss_kb(pid, "VmHWM:") : -1;
        const long heap = pid > 0 ? rss_kb(pid, "RssAnon:") : -1;  // without the mapped database file
        std::size_t rows = 0;
        for (std::size_t p = 0; (p = r.find("\r\n", p)) != std::string::npos; p += 2) ++rows;
        std::printf("  export %zu bytes, about %zu lines, %.1f s: %.0f leads/s, %.1f MB/s; service peak RSS %ld MB "
                    "before, %ld MB after (heap %ld MB after)\n",
                    r.size(), rows, ms / 1000, static_cast<double>(o.leads) / (ms / 1000),
                    static_cast<double>(r.size()) / 1e6 / (ms / 1000), before / 1024, after / 1024, heap / 1024);
    }
    svc.signal(15);
    svc.wait();
    return 0;
}
