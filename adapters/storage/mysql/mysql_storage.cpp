#include "adapters/storage/mysql/mysql_storage.hpp"

#include <cppconn/exception.h>
#include <cppconn/resultset.h>
#include <cppconn/statement.h>
#include <mysql_connection.h>
#include <mysql_driver.h>
#include <spdlog/spdlog.h>

#include <future>
#include <string>
#include <utility>

#include "adapters/storage/lead_queries.hpp"
#include "adapters/storage/migrations.hpp"
#include "adapters/storage/sql_query.hpp"
#include "core/error.hpp"

namespace leadhatch::adapters::storage {

using core::StorageError;
using core::StorageErrorKind;

namespace {

// get_mysql_driver_instance() is not thread-safe: a function-local static makes it a one-time call.
sql::mysql::MySQL_Driver* driver() {
    static sql::mysql::MySQL_Driver* d = sql::mysql::get_mysql_driver_instance();
    return d;
}

// The client library needs per-thread state on every thread that uses a connection.
struct ThreadInit {
    ThreadInit() { driver()->threadInit(); }
    ~ThreadInit() { driver()->threadEnd(); }
    ThreadInit(const ThreadInit&) = delete;
    ThreadInit& operator=(const ThreadInit&) = delete;
};

void ensure_thread_init() { thread_local ThreadInit init; }

StorageErrorKind classify(const sql::SQLException& e) {
    switch (e.getErrorCode()) {
        case 1062:  // ER_DUP_ENTRY
        case 1213:  // ER_LOCK_DEADLOCK
        case 1205:  // ER_LOCK_WAIT_TIMEOUT
        case 1022:  // ER_DUP_KEY
            return StorageErrorKind::kConflict;
        case 1040:  // ER_CON_COUNT_ERROR
        case 1053:  // ER_SERVER_SHUTDOWN
        case 1077:  // ER_NORMAL_SHUTDOWN
        case 1927:  // ER_CONNECTION_KILLED
        case 2002:  // CR_CONNECTION_ERROR
        case 2003:  // CR_CONN_HOST_ERROR
        case 2005:  // CR_UNKNOWN_HOST
        case 2006:  // CR_SERVER_GONE_ERROR
        case 2013:  // CR_SERVER_LOST
        case 2026:  // CR_SSL_CONNECTION_ERROR
        case 2055:  // CR_SERVER_LOST_EXTENDED
        case 4031:  // ER_CLIENT_INTERACTION_TIMEOUT
            return StorageErrorKind::kUnavailable;
        case 1064:  // ER_PARSE_ERROR
        case 1406:  // ER_DATA_TOO_LONG
        case 1366:  // ER_TRUNCATED_WRONG_VALUE_FOR_FIELD
            return StorageErrorKind::kInvalid;
        default:
            break;
    }
    const auto& state = e.getSQLState();
    if (state.rfind("08", 0) == 0) return StorageErrorKind::kUnavailable;
    if (e.getErrorCode() == 0) return StorageErrorKind::kUnavailable;  // the driver lost its connection
    return StorageErrorKind::kInternal;
}

[[noreturn]] void rethrow(const sql::SQLException& e, std::string_view what) {
    throw StorageError(classify(e),
                       std::string(what) + ": mysql error " + std::to_string(e.getErrorCode()) + ": " + e.what());
}

std::int64_t ms(core::Timestamp t) { return core::to_epoch_ms(t); }

core::OutboxStatus parse_status(const std::string& s) {
    if (s == "sent") return core::OutboxStatus::kSent;
    if (s == "dead") return core::OutboxStatus::kDead;
    if (s == "suppressed") return core::OutboxStatus::kSuppressed;
    return core::OutboxStatus::kPending;
}

}  // namespace

// One server connection and the statement object used for its text-protocol queries.
class MysqlStorage::Conn {
public:
    Conn(std::unique_ptr<sql::Connection> c, std::uint64_t generation)
        : conn_(std::move(c)), stmt_(conn_->createStatement()), generation_(generation) {}

    std::uint64_t generation() const { return generation_; }

    void exec(const std::string& sql) { stmt_->execute(sql); }
    std::int64_t exec_update(const std::string& sql) { return stmt_->executeUpdate(sql); }

    std::unique_ptr<sql::ResultSet> query(const std::string& sql) {
        return std::unique_ptr<sql::ResultSet>(stmt_->executeQuery(sql));
    }

    // Sends `first` (a statement without a result set, or nothing) and then the queries in one
    // round trip and returns each query's rows, in order.
    std::vector<std::unique_ptr<sql::ResultSet>> query_all(std::string_view first, std::span<const std::string> queries) {
        std::string all;
        if (!first.empty()) all.append(first).append(";\n");
        for (std::size_t i = 0; i < queries.size(); ++i) all.append(i ? ";\n" : "").append(queries[i]);
        std::vector<std::unique_ptr<sql::ResultSet>> out;
        stmt_->execute(all);
        if (!first.empty()) stmt_->getMoreResults();
        for (std::size_t i = 0; i < queries.size(); ++i) {
            if (i) stmt_->getMoreResults();
            out.emplace_back(stmt_->getResultSet());
        }
        return out;
    }

    // Sends `count` statements joined by ';' in one round trip and consumes every result, so that
    // the error of any of them surfaces here.
    void exec_multi(const std::string& sql, int count) {
        stmt_->execute(sql);
        for (int i = 1; i < count; ++i) stmt_->getMoreResults();
    }

    // A string literal as mysql_real_escape_string writes it. Every connection is set to utf8mb4
    // and to a sql_mode without NO_BACKSLASH_ESCAPES when it opens (see connect), and no byte of a
    // UTF-8 multi-byte sequence is ASCII, so escaping byte by byte is exact. (The connector's
    // escapeString copied the text three times and took a fifth of the ingest writer's CPU.)
    static void append_quoted(std::string& out, std::string_view s) {
        out.reserve(out.size() + s.size() + 2);
        out += '\'';
        std::size_t run = 0;
        for (std::size_t i = 0; i < s.size(); ++i) {
            const char* esc = nullptr;
            switch (s[i]) {
                case '\0': esc = "\\0"; break;
                case '\n': esc = "\\n"; break;
                case '\r': esc = "\\r"; break;
                case '\\': esc = "\\\\"; break;
                case '\'': esc = "\\'"; break;
                case '"': esc = "\\\""; break;
                case '\x1a': esc = "\\Z"; break;
                default: continue;
            }
            out.append(s.data() + run, i - run);
            out += esc;
            run = i + 1;
        }
        out.append(s.data() + run, s.size() - run);
        out += '\'';
    }

private:
    std::unique_ptr<sql::Connection> conn_;
    std::unique_ptr<sql::Statement> stmt_;
    std::uint64_t generation_;
};

namespace {

// A double as SQL text that reads back as the same value.
void append_double(std::string& out, double v) {
    char buf[32];
    const int n = std::snprintf(buf, sizeof buf, "%.17g", v);
    out.append(buf, static_cast<std::size_t>(n));
}

// Builds SQL text with every value escaped by the connection (utf8mb4-aware).
class SqlText {
public:
    explicit SqlText(MysqlStorage::Conn& c) : c_(c) {}
    SqlText& raw(std::string_view s) {
        s_ += s;
        return *this;
    }
    SqlText& str(std::string_view s) {
        c_.append_quoted(s_, s);
        return *this;
    }
    SqlText& num(std::int64_t v) {
        s_ += std::to_string(v);
        return *this;
    }
    SqlText& real(double v) {
        append_double(s_, v);
        return *this;
    }
    SqlText& time(core::Timestamp t) { return num(ms(t)); }
    SqlText& opt_time(const std::optional<core::Timestamp>& t) { return t ? time(*t) : raw("NULL"); }
    SqlText& opt_num(std::optional<std::int64_t> v) { return v ? num(*v) : raw("NULL"); }
    SqlText& opt_str(const std::optional<std::string>& v) { return v ? str(*v) : raw("NULL"); }
    SqlText& opt_bool(const std::optional<bool>& v) { return v ? num(*v ? 1 : 0) : raw("NULL"); }
    SqlText& id_or_null(std::int64_t v) { return v ? num(v) : raw("NULL"); }
    std::string& text() { return s_; }
    bool empty() const { return s_.empty(); }

private:
    MysqlStorage::Conn& c_;
    std::string s_;
};

// Collects statements and sends them in as few round trips as the packet size allows.
class Batch {
public:
    explicit Batch(MysqlStorage::Conn& c) : c_(c) {}
    void add(std::string stmt) {
        if (!pending_.empty() && pending_.size() + stmt.size() > kMaxBytes) flush();
        if (!pending_.empty()) pending_ += ";\n";
        pending_ += stmt;
        ++count_;
    }
    void flush() {
        if (count_ == 0) return;
        c_.exec_multi(pending_, count_);
        pending_.clear();
        count_ = 0;
    }

private:
    static constexpr std::size_t kMaxBytes = 4u << 20;  // far below max_allowed_packet (16 MiB)
    MysqlStorage::Conn& c_;
    std::string pending_;
    int count_ = 0;
};

// Multi-row INSERTs are split every kServerRowsPerInsert rows.
template <class Rows, class RowFn>
void insert_rows(MysqlStorage::Conn& c, Batch& batch, const Rows& rows, std::string_view head,
                 std::string_view tail, RowFn&& row_fn) {
    for (std::size_t start = 0; start < rows.size(); start += kServerRowsPerInsert) {
        SqlText q(c);
        q.raw(head);
        const std::size_t end = std::min(rows.size(), start + kServerRowsPerInsert);
        for (std::size_t i = start; i < end; ++i) {
            q.raw(i == start ? "(" : ",(");
            row_fn(q, rows[i]);
            q.raw(")");
        }
        q.raw(tail);
        batch.add(std::move(q.text()));
    }
}

class MysqlRowView final : public SqlRow {
public:
    explicit MysqlRowView(sql::ResultSet& rs) : rs_(rs) {}
    bool is_null(int col) const override { return rs_.isNull(static_cast<std::uint32_t>(col + 1)); }
    std::int64_t i64(int col) const override { return rs_.getInt64(static_cast<std::uint32_t>(col + 1)); }
    double f64(int col) const override { return static_cast<double>(rs_.getDouble(static_cast<std::uint32_t>(col + 1))); }
    std::string text(int col) const override { return rs_.getString(static_cast<std::uint32_t>(col + 1)).asStdString(); }

private:
    sql::ResultSet& rs_;
};

// Runs dialect-neutral queries on one connection: the '?' placeholders (outside quoted literals)
// are replaced by escaped values, and the text goes over the wire in one round trip.
class MysqlExec final : public SqlExec {
public:
    explicit MysqlExec(MysqlStorage::Conn& c) : c_(c) {}
    Dialect dialect() const override { return Dialect::kMysql; }
    void run(const SqlQuery& q) override { changes_ = c_.exec_update(render(q)); }
    void query(const SqlQuery& q, const std::function<void(const SqlRow&)>& row) override {
        auto rs = c_.query(render(q));
        MysqlRowView view(*rs);
        while (rs->next()) row(view);
    }
    std::int64_t changes() override { return changes_; }

    std::string render(const SqlQuery& q) {
        const auto& t = q.text();
        std::string out;
        out.reserve(t.size() + 32 * q.params().size());
        std::size_t p = 0;
        char quote = 0;
        for (char ch : t) {
            if (quote) {
                out += ch;
                if (ch == quote) quote = 0;
                continue;
            }
            if (ch == '\'' || ch == '"' || ch == '`') {
                quote = ch;
                out += ch;
                continue;
            }
            if (ch != '?') {
                out += ch;
                continue;
            }
            if (p >= q.params().size()) throw StorageError(StorageErrorKind::kInternal, "too few query parameters");
            std::visit(
                [&](const auto& v) {
                    using T = std::decay_t<decltype(v)>;
                    if constexpr (std::is_same_v<T, std::nullptr_t>) {
                        out += "NULL";
                    } else if constexpr (std::is_same_v<T, std::int64_t>) {
                        out += std::to_string(v);
                    } else if constexpr (std::is_same_v<T, double>) {
                        append_double(out, v);
                    } else {
                        c_.append_quoted(out, v);
                    }
                },
                q.params()[p++]);
        }
        return out;
    }

private:
    MysqlStorage::Conn& c_;
    std::int64_t changes_ = 0;
};

// Statements go into a Batch instead of straight to the server; a query flushes first.
class BatchExec final : public SqlExec {
public:
    BatchExec(MysqlStorage::Conn& c, Batch& batch) : exec_(c), batch_(batch) {}
    Dialect dialect() const override { return Dialect::kMysql; }
    void run(const SqlQuery& q) override { batch_.add(exec_.render(q)); }
    void query(const SqlQuery& q, const std::function<void(const SqlRow&)>& row) override {
        batch_.flush();
        exec_.query(q, row);
    }
    std::int64_t changes() override { return -1; }  // unknown until the batch runs

private:
    MysqlExec exec_;
    Batch& batch_;
};

// Adds a WriteSet's statements to `batch`; the caller flushes (usually together with its COMMIT).
void apply_writes(MysqlStorage::Conn& c, Batch& batch, const core::WriteSet& w) {
    insert_rows(c, batch, w.processed, "INSERT INTO processed_inbound (channel_id, inbound_id, processed_at) VALUES ",
                "", [&](SqlText& q, const core::InboundKey& p) {
                    q.str(p.channel_id).raw(",").str(p.inbound_id).raw(",").time(w.now);
                });
    insert_rows(c, batch, w.new_leads,
                "INSERT INTO leads (id, display_name, username, language, phone, source_kind, source_channel, "
                "source_campaign, source_detail, referral_code, referred_by, stage_changed_at, created_at, "
                "updated_at, last_seen_at, stage, owner, status, status_changed_at, lifecycle, score, grade, "
                "demographic_score, behavioral_score, score_at, grade_expires_at) VALUES ",
                "", [](SqlText& q, const core::LeadRow& l) {
                    q.num(l.id.value).raw(",").str(l.display_name).raw(",").str(l.username).raw(",");
                    q.str(l.language).raw(",").str(l.phone).raw(",").str(l.source_kind).raw(",");
                    q.str(l.source_channel).raw(",").str(l.source_campaign).raw(",").str(l.source_detail).raw(",");
                    q.str(l.referral_code).raw(",").id_or_null(l.referred_by.value).raw(",");
                    q.time(l.created_at).raw(",").time(l.created_at).raw(",").time(l.updated_at.value_or(l.created_at));
                    q.raw(",").time(l.last_seen_at.value_or(l.created_at)).raw(",").str(l.stage).raw(",");
                    q.str(l.owner).raw(",").str(l.status).raw(",").opt_time(l.status_changed_at).raw(",");
                    q.str(l.lifecycle).raw(",").num(l.score).raw(",").str(l.grade).raw(",");
                    q.num(l.demographic_score).raw(",").real(l.behavioral_score).raw(",").time(l.score_at);
                    q.raw(",").opt_time(l.grade_expires_at);
                });
    insert_rows(c, batch, w.new_leads, "INSERT INTO stage_history (lead_id, stage, entered_at, actor, reason) VALUES ",
                "", [](SqlText& q, const core::LeadRow& l) {
                    q.num(l.id.value).raw(",").str(l.stage).raw(",").time(l.created_at).raw(",'system','created'");
                });
    insert_rows(c, batch, w.new_identities,
                "INSERT INTO lead_identities (channel_id, external_user_id, lead_id, display_name, username, "
                "language, created_at, updated_at) VALUES ",
                "", [](SqlText& q, const core::IdentityRow& i) {
                    q.str(i.key.channel_id).raw(",").str(i.key.external_user_id).raw(",").num(i.lead_id.value);
                    q.raw(",").str(i.display_name).raw(",").str(i.username).raw(",").str(i.language).raw(",");
                    q.time(i.at).raw(",").time(i.at);
                });
    for (const auto& u : w.identity_updates) {
        SqlText q(c);
        q.raw("UPDATE lead_identities SET display_name = COALESCE(").opt_str(u.display_name);
        q.raw(", display_name), username = COALESCE(").opt_str(u.username);
        q.raw(", username), language = COALESCE(").opt_str(u.language);
        q.raw(", language), unreachable = COALESCE(").opt_bool(u.unreachable);
        q.raw(", unreachable), menu = COALESCE(").opt_str(u.menu);
        q.raw(", menu), updated_at = ").time(u.at);
        q.raw(" WHERE channel_id = ").str(u.key.channel_id).raw(" AND external_user_id = ").str(u.key.external_user_id);
        batch.add(std::move(q.text()));
        if (u.unreachable) {
            SqlText r(c);
            r.raw("UPDATE leads l JOIN lead_identities k ON k.lead_id = l.id AND k.channel_id = ")
                .str(u.key.channel_id)
                .raw(" AND k.external_user_id = ")
                .str(u.key.external_user_id)
                .raw(" SET l.unreachable = NOT EXISTS (SELECT 1 FROM lead_identities i WHERE i.lead_id = l.id AND "
                     "i.unreachable = 0), l.updated_at = ")
                .time(u.at);
            batch.add(std::move(r.text()));
        }
    }
    // Activity only (last_seen_at) for many leads: one statement, and updated_at stays.
    {
        SqlText q(c);
        bool any = false;
        for (const auto& u : w.lead_updates) {
            if (u.changes_record() || !u.last_seen_at) continue;
            q.raw(any ? " WHEN " : "UPDATE leads SET last_seen_at = GREATEST(COALESCE(last_seen_at, 0), CASE id WHEN ");
            q.num(u.id.value).raw(" THEN ").time(*u.last_seen_at);
            any = true;
        }
        if (any) {
            q.raw(" END) WHERE id IN (");
            bool first = true;
            for (const auto& u : w.lead_updates) {
                if (u.changes_record() || !u.last_seen_at) continue;
                q.raw(first ? "" : ",").num(u.id.value);
                first = false;
            }
            q.raw(")");
            batch.add(std::move(q.text()));
        }
    }
    for (const auto& u : w.lead_updates) {
        if (!u.changes_record() || u.extended()) continue;
        SqlText q(c);
        // MySQL evaluates single-table UPDATE assignments left to right: opted_out_at reads the old
        // opted_out, so it is assigned first.
        q.raw("UPDATE leads SET display_name = COALESCE(").opt_str(u.display_name);
        q.raw(", display_name), username = COALESCE(").opt_str(u.username);
        q.raw(", username), language = COALESCE(").opt_str(u.language);
        q.raw(", language), phone = COALESCE(").opt_str(u.phone).raw(", phone)");
        if (u.opted_out) {
            if (*u.opted_out) {
                q.raw(", opted_out_at = IF(opted_out = 0, ").time(u.at).raw(", opted_out_at), opted_out = 1");
            } else {
                q.raw(", opted_out_at = NULL, opted_out = 0");
            }
        }
        if (u.unreachable) q.raw(", unreachable = ").num(*u.unreachable ? 1 : 0);
        if (u.last_seen_at) {
            q.raw(", last_seen_at = GREATEST(COALESCE(last_seen_at, 0), ").time(*u.last_seen_at).raw(")");
        }
        if (u.referral_count_delta != 0) q.raw(", referral_count = referral_count + ").num(u.referral_count_delta);
        q.raw(", updated_at = ").time(u.at).raw(" WHERE id = ").num(u.id.value);
        batch.add(std::move(q.text()));
    }
    insert_rows(c, batch, w.touches,
                "INSERT INTO lead_touches (lead_id, channel_id, source_kind, campaign, referral_code, referrer_id, "
                "detail, at) VALUES ",
                "", [](SqlText& q, const core::TouchRow& t) {
                    q.num(t.lead_id.value).raw(",").str(t.channel_id).raw(",").str(t.source_kind).raw(",");
                    q.str(t.campaign).raw(",").str(t.referral_code).raw(",").id_or_null(t.referrer.value);
                    q.raw(",").str(t.detail).raw(",").time(t.at);
                });
    for (const auto& ch : w.chats) {
        // One row per statement: bot_member is optional and must not be overwritten when unset.
        SqlText q(c);
        q.raw("INSERT INTO chats (channel_id, chat_id, type, title, bot_member, updated_at) VALUES (")
            .str(ch.channel_id)
            .raw(",")
            .str(ch.chat_id)
            .raw(",")
            .str(ch.type)
            .raw(",")
            .str(ch.title)
            .raw(",COALESCE(")
            .opt_bool(ch.bot_member)
            .raw(", 1),")
            .time(ch.at)
            .raw(") ON DUPLICATE KEY UPDATE type = VALUES(type), title = IF(VALUES(title) <> '', VALUES(title), "
                 "title), bot_member = COALESCE(")
            .opt_bool(ch.bot_member)
            .raw(", bot_member), updated_at = VALUES(updated_at)");
        batch.add(std::move(q.text()));
    }
    insert_rows(c, batch, w.memberships,
                "INSERT INTO group_members (channel_id, chat_id, lead_id, member, joined_at, left_at, updated_at) "
                "VALUES ",
                " ON DUPLICATE KEY UPDATE joined_at = COALESCE(VALUES(joined_at), joined_at), "
                "left_at = IF(VALUES(member) = 1, NULL, VALUES(left_at)), member = VALUES(member), "
                "updated_at = VALUES(updated_at)",
                [](SqlText& q, const core::MembershipRow& m) {
                    q.str(m.channel_id).raw(",").str(m.chat_id).raw(",").num(m.lead_id.value).raw(",");
                    q.num(m.member ? 1 : 0).raw(",");
                    if (m.member) {
                        q.time(m.at).raw(",NULL,");
                    } else {
                        q.raw("NULL,").time(m.at).raw(",");
                    }
                    q.time(m.at);
                });
    const bool extended = !w.tags.empty() || !w.stage_changes.empty() || !w.score_entries.empty() ||
                          !w.rule_totals.empty() || !w.merges.empty() || !w.erasures.empty() ||
                          std::any_of(w.lead_updates.begin(), w.lead_updates.end(),
                                      [](const core::LeadUpdate& u) { return u.extended(); });
    if (extended) {
        // The extended rows join the same multi-statement round trip.
        BatchExec ex(c, batch);
        queries::apply_extended(ex, w);
    }
    insert_rows(c, batch, w.events,
                "INSERT INTO events (lead_id, channel_id, kind, actor, occurred_at, recorded_at, data) VALUES ", "",
                [&](SqlText& q, const core::EventRow& e) {
                    q.num(e.lead_id.value).raw(",").str(e.channel_id).raw(",").str(e.kind).raw(",").str(e.actor);
                    q.raw(",").time(e.occurred_at).raw(",").time(w.now).raw(",").str(e.data);
                });
    insert_rows(c, batch, w.outbox,
                "INSERT IGNORE INTO outbox (channel_id, idem_key, lead_id, chat_id, kind, body, marketing, is_group, "
                "due_at, created_at, status, sent_at) VALUES ",
                "", [](SqlText& q, const core::OutboxRow& o) {
                    q.str(o.channel_id).raw(",").str(o.idem_key).raw(",").id_or_null(o.lead_id.value).raw(",");
                    q.str(o.chat_id).raw(",").str(o.kind).raw(",").str(o.body).raw(",").num(o.marketing ? 1 : 0);
                    q.raw(",").num(o.is_group ? 1 : 0).raw(",").time(o.due_at).raw(",").time(o.created_at);
                    q.raw(",").str(o.status).raw(",");
                    if (o.status == "sent") {
                        q.time(o.created_at);
                    } else {
                        q.raw("NULL");
                    }
                });
}

constexpr const char* kOutboxColumns =
    "o.id, o.channel_id, o.idem_key, o.lead_id, o.chat_id, o.kind, o.body, o.marketing, o.is_group, o.attempts, "
    "o.status, o.due_at, o.last_error, COALESCE(l.opted_out, 0), COALESCE(i.unreachable, 0) "
    "FROM outbox o LEFT JOIN leads l ON l.id = o.lead_id "
    "LEFT JOIN lead_identities i ON i.channel_id = o.channel_id AND i.external_user_id = o.chat_id ";

core::OutboxRecord read_outbox(sql::ResultSet& rs) {
    core::OutboxRecord r;
    r.id = core::OutboxId{rs.getInt64(1)};
    r.channel_id = rs.getString(2).asStdString();
    r.idem_key = rs.getString(3).asStdString();
    r.lead_id = core::LeadId{rs.isNull(4) ? 0 : rs.getInt64(4)};
    r.chat_id = rs.getString(5).asStdString();
    r.kind = rs.getString(6).asStdString();
    r.body = rs.getString(7).asStdString();
    r.marketing = rs.getInt(8) != 0;
    r.is_group = rs.getInt(9) != 0;
    r.attempts = rs.getInt(10);
    r.status = parse_status(rs.getString(11).asStdString());
    r.due_at = core::from_epoch_ms(rs.getInt64(12));
    r.last_error = rs.getString(13).asStdString();
    r.recipient_opted_out = rs.getInt(14) != 0;
    r.recipient_unreachable = rs.getInt(15) != 0;
    return r;
}

}  // namespace

// A checked-out connection, given back to the pool when the lease ends.
class MysqlStorage::Lease {
public:
    Lease(MysqlStorage& owner, std::unique_ptr<Conn> conn) : owner_(&owner), conn_(std::move(conn)) {}
    Lease(Lease&& o) noexcept : owner_(std::exchange(o.owner_, nullptr)), conn_(std::move(o.conn_)), broken_(o.broken_) {}
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    Lease& operator=(Lease&&) = delete;
    ~Lease() {
        if (owner_) owner_->release(std::move(conn_), broken_);
    }
    Conn& operator*() { return *conn_; }
    Conn* operator->() { return conn_.get(); }
    void mark_broken() { broken_ = true; }

private:
    MysqlStorage* owner_;
    std::unique_ptr<Conn> conn_;
    bool broken_ = false;
};

// A write transaction that costs few round trips: START TRANSACTION travels with the first query
// (the pipeline's deduplication lookup), written rows wait in a multi-statement batch until a
// read needs them or the COMMIT that carries them. A connection found dead on the first round
// trip (the server restarted since it was pooled) is replaced once, as nothing was sent yet.
class MysqlStorage::Tx final : public core::WriteTx {
public:
    Tx(MysqlStorage& owner, Lease lease) : owner_(owner) { lease_.emplace(std::move(lease)); }
    ~Tx() override {
        if (done_ || !begun_) return;
        try {
            (*lease_)->exec("ROLLBACK");
        } catch (const sql::SQLException& e) {
            lease_->mark_broken();
            spdlog::warn("mysql rollback failed ({}): connection discarded", e.getErrorCode());
        }
    }

    // Opens the transaction on its own round trip unless it is open already.
    void begin() {
        if (begun_) return;
        first_round_trip("begin", [&] { conn().exec("START TRANSACTION"); });
    }

    std::vector<core::InboundKey> find_processed(std::span<const core::InboundKey> keys) override {
        if (keys.empty()) return {};
        auto rs = query("find processed", processed_sql(keys));
        return guarded("find processed", [&] { return read_processed(*rs); });
    }

    std::vector<core::IdentityRecord> find_identities(std::span<const core::IdentityKey> keys) override {
        if (keys.empty()) return {};
        auto rs = query("find identities", identities_sql(keys));
        return guarded("find identities", [&] { return read_identities(*rs); });
    }

    // One round trip for all three (with the transaction's opening when it is the first).
    // The totals are read for every asked rule of every asked identity, joined on the identities
    // (the lead ids are not known yet), then narrowed to the pairs asked.
    Known find_known(std::span<const core::InboundKey> inbound, std::span<const core::IdentityKey> identities,
                     std::span<const core::RuleAsk> asks) override {
        if (inbound.empty() || identities.empty()) return WriteTx::find_known(inbound, identities, asks);
        std::vector<std::string> rule_ids;
        for (const auto& a : asks) {
            if (std::find(rule_ids.begin(), rule_ids.end(), a.rule_id) == rule_ids.end()) rule_ids.push_back(a.rule_id);
        }
        std::vector<std::string> queries{processed_sql(inbound), identities_sql(identities)};
        if (!rule_ids.empty()) queries.push_back(rule_totals_sql(identities, rule_ids));
        auto rs = query("find known", queries);
        return guarded("find known", [&] {
            Known k{read_processed(*rs[0]), read_identities(*rs[1]), {}, {}};
            k.asked = core::asked_pairs(identities, k.identities, asks);
            if (rs.size() > 2) {
                while (rs[2]->next()) {
                    const core::LeadId lead{rs[2]->getInt64(1)};
                    std::string rule = rs[2]->getString(2).asStdString();
                    // k.asked is sorted (asked_pairs).
                    if (!std::binary_search(k.asked.begin(), k.asked.end(), std::pair{lead, rule})) continue;
                    k.rule_totals.emplace_back(lead, core::RuleTotal{std::move(rule), rs[2]->getInt64(3),
                                                                     core::from_epoch_ms(rs[2]->getInt64(4)),
                                                                     rs[2]->getInt64(5)});
                }
            }
            return k;
        });
    }

    bool lead_exists(core::LeadId id) override {
        auto rs = query("lead exists", "SELECT 1 FROM leads WHERE id = " + std::to_string(id.value) +
                                           " AND merged_into IS NULL");
        return guarded("lead exists", [&] { return rs->next(); });
    }

    std::optional<core::LeadRecord> lead_for_update(core::LeadId id) override {
        return read("lead for update", [&](MysqlExec& ex) { return queries::get_lead(ex, id, true); });
    }

    std::vector<core::RuleTotal> rule_totals(core::LeadId id, std::span<const std::string> rule_ids) override {
        return read("rule totals", [&](MysqlExec& ex) { return queries::rule_totals(ex, id, rule_ids); });
    }

    std::vector<std::pair<core::LeadId, core::RuleTotal>> rule_totals_for(
        std::span<const std::pair<core::LeadId, std::string>> keys) override {
        return read("rule totals", [&](MysqlExec& ex) { return queries::rule_totals_for(ex, keys); });
    }

    std::vector<core::LeadId> leads_with_verified(std::string_view phone, std::string_view email,
                                                  core::LeadId except) override {
        return read("leads with verified",
                    [&](MysqlExec& ex) { return queries::leads_with_verified(ex, phone, email, except); });
    }

    void apply(const core::WriteSet& writes) override {
        begin();
        guarded("apply writes", [&] {
            apply_writes(conn(), *batch_, writes);
            return 0;
        });
    }

    void commit() override {
        if (!begun_) {  // nothing was read or written
            done_ = true;
            return;
        }
        guarded("commit", [&] {
            batch_->add("COMMIT");
            batch_->flush();
            return 0;
        });
        done_ = true;
    }

private:
    Conn& conn() { return **lease_; }

    std::string processed_sql(std::span<const core::InboundKey> keys) {
        SqlText q(conn());
        q.raw("SELECT channel_id, inbound_id FROM processed_inbound WHERE (channel_id, inbound_id) IN (");
        for (std::size_t i = 0; i < keys.size(); ++i) {
            q.raw(i ? ",(" : "(").str(keys[i].channel_id).raw(",").str(keys[i].inbound_id).raw(")");
        }
        q.raw(")");
        return q.text();
    }

    static std::vector<core::InboundKey> read_processed(sql::ResultSet& rs) {
        std::vector<core::InboundKey> found;
        while (rs.next()) found.push_back({rs.getString(1).asStdString(), rs.getString(2).asStdString()});
        return found;
    }

    std::string identities_sql(std::span<const core::IdentityKey> keys) {
        SqlText q(conn());
        q.raw("SELECT i.channel_id, i.external_user_id, i.lead_id, i.display_name, i.username, i.language, "
              "i.unreachable, l.opted_out, l.stage, l.status, l.lifecycle, l.score, l.grade, l.demographic_score, "
              "l.behavioral_score, l.score_at, i.menu, l.grade_expires_at FROM lead_identities i "
              "JOIN leads l ON l.id = i.lead_id "
              "WHERE (i.channel_id, i.external_user_id) IN (");
        add_identity_keys(q, keys);
        q.raw(")");
        return q.text();
    }

    static void add_identity_keys(SqlText& q, std::span<const core::IdentityKey> keys) {
        for (std::size_t i = 0; i < keys.size(); ++i) {
            q.raw(i ? ",(" : "(").str(keys[i].channel_id).raw(",").str(keys[i].external_user_id).raw(")");
        }
    }

    // The totals of these rules for the leads behind these identities (walks both primary keys).
    std::string rule_totals_sql(std::span<const core::IdentityKey> keys, std::span<const std::string> rule_ids) {
        SqlText q(conn());
        q.raw("SELECT t.lead_id, t.rule_id, t.total, t.period_start, t.period_points FROM lead_identities i "
              "JOIN lead_rule_totals t ON t.lead_id = i.lead_id WHERE (i.channel_id, i.external_user_id) IN (");
        add_identity_keys(q, keys);
        q.raw(") AND t.rule_id IN (");
        for (std::size_t i = 0; i < rule_ids.size(); ++i) q.raw(i ? "," : "").str(rule_ids[i]);
        q.raw(")");
        return q.text();
    }

    static std::vector<core::IdentityRecord> read_identities(sql::ResultSet& rs) {
        std::vector<core::IdentityRecord> found;
        while (rs.next()) {
            core::IdentityRecord r;
            r.key = {rs.getString(1).asStdString(), rs.getString(2).asStdString()};
            r.lead_id = core::LeadId{rs.getInt64(3)};
            r.display_name = rs.getString(4).asStdString();
            r.username = rs.getString(5).asStdString();
            r.language = rs.getString(6).asStdString();
            r.unreachable = rs.getInt(7) != 0;
            r.lead_opted_out = rs.getInt(8) != 0;
            r.stage = rs.getString(9).asStdString();
            r.status = rs.getString(10).asStdString();
            r.lifecycle = rs.getString(11).asStdString();
            r.score = rs.getInt64(12);
            r.grade = rs.getString(13).asStdString();
            r.demographic_score = rs.getInt64(14);
            r.behavioral_score = static_cast<double>(rs.getDouble(15));
            r.score_at = core::from_epoch_ms(rs.getInt64(16));
            r.menu = rs.getString(17).asStdString();
            if (!rs.isNull(18)) r.grade_expires_at = core::from_epoch_ms(rs.getInt64(18));
            found.push_back(std::move(r));
        }
        return found;
    }

    // Runs the transaction's first round trip; on a connection that turns out dead, once more on a
    // fresh one (nothing was sent on the dead one).
    template <class Fn>
    void first_round_trip(std::string_view what, Fn&& fn) {
        for (int attempt = 0;; ++attempt) {
            try {
                fn();
                begun_ = true;
                batch_.emplace(conn());
                return;
            } catch (const sql::SQLException& e) {
                const auto kind = classify(e);
                if (kind != StorageErrorKind::kUnavailable) {
                    begun_ = true;  // START TRANSACTION may have run: the destructor rolls back
                    batch_.emplace(conn());
                    rethrow(e, what);
                }
                if (attempt >= 1) {
                    lease_->mark_broken();
                    done_ = true;
                    rethrow(e, what);
                }
                lease_->mark_broken();
                lease_.reset();
                lease_.emplace(owner_.acquire());
            }
        }
    }

    // Queries inside the transaction, in one round trip: pending writes go first; the
    // transaction's opening travels with the queries when they are the first.
    std::vector<std::unique_ptr<sql::ResultSet>> query(std::string_view what, std::span<const std::string> sqls) {
        if (!begun_) {
            std::vector<std::unique_ptr<sql::ResultSet>> rs;
            first_round_trip(what, [&] { rs = conn().query_all("START TRANSACTION", sqls); });
            return rs;
        }
        return guarded(what, [&] {
            batch_->flush();
            return conn().query_all("", sqls);
        });
    }
    std::unique_ptr<sql::ResultSet> query(std::string_view what, const std::string& sql) {
        return std::move(query(what, std::span(&sql, 1)).front());
    }

    template <class Fn>
    auto read(std::string_view what, Fn&& fn) -> decltype(fn(std::declval<MysqlExec&>())) {
        begin();
        return guarded(what, [&] {
            batch_->flush();
            MysqlExec ex(conn());
            return fn(ex);
        });
    }

    template <class Fn>
    auto guarded(std::string_view what, Fn&& fn) -> decltype(fn()) {
        try {
            return fn();
        } catch (const sql::SQLException& e) {
            if (classify(e) == StorageErrorKind::kUnavailable) {
                lease_->mark_broken();
                done_ = true;  // nothing to roll back on a dead connection
            }
            rethrow(e, what);
        }
    }

    MysqlStorage& owner_;
    std::optional<Lease> lease_;
    std::optional<Batch> batch_;  // statements not yet sent (after begin)
    bool begun_ = false;
    bool done_ = false;
};

MysqlStorage::MysqlStorage(MysqlOptions options) : options_(std::move(options)) {
    // Connections are opened on first use: the service starts (and answers /readyz with 503)
    // while the database is still coming up.
    ensure_thread_init();
}

MysqlStorage::~MysqlStorage() {
    std::lock_guard lk(mu_);
    idle_.clear();
}

std::unique_ptr<MysqlStorage::Conn> MysqlStorage::connect() {
    ensure_thread_init();
    sql::ConnectOptionsMap opts;
    opts["hostName"] = sql::SQLString(options_.host);
    opts["port"] = options_.port;
    opts["userName"] = sql::SQLString(options_.user);
    opts["password"] = sql::SQLString(options_.password);
    opts["schema"] = sql::SQLString(options_.database);
    opts["OPT_CONNECT_TIMEOUT"] = options_.connect_timeout_s;
    opts["OPT_READ_TIMEOUT"] = options_.io_timeout_s;
    opts["OPT_WRITE_TIMEOUT"] = options_.io_timeout_s;
    opts["OPT_RECONNECT"] = false;
    opts["OPT_CHARSET_NAME"] = sql::SQLString("utf8mb4");
    opts["CLIENT_MULTI_STATEMENTS"] = true;
    std::uint64_t generation = 0;
    {
        std::lock_guard lk(mu_);
        generation = generation_;
    }
    try {
        std::unique_ptr<sql::Connection> c(driver()->connect(opts));
        auto conn = std::make_unique<Conn>(std::move(c), generation);
        conn->exec("SET NAMES utf8mb4 COLLATE utf8mb4_unicode_ci");
        conn->exec("SET SESSION time_zone = '+00:00', SESSION sql_mode = 'STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION'");
        conn->exec("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED");
        return conn;
    } catch (const sql::SQLException& e) {
        throw StorageError(StorageErrorKind::kUnavailable,
                           "connect to mysql " + options_.host + ":" + std::to_string(options_.port) + ": error " +
                               std::to_string(e.getErrorCode()) + ": " + e.what());
    }
}

MysqlStorage::Lease MysqlStorage::acquire() {
    ensure_thread_init();
    std::unique_lock lk(mu_);
    if (idle_.empty() && open_ >= options_.pool_size) {
        ++waits_;
        if (!cv_.wait_for(lk, options_.checkout_timeout, [&] { return !idle_.empty() || open_ < options_.pool_size; })) {
            throw StorageError(StorageErrorKind::kUnavailable, "mysql pool: no connection free within the timeout");
        }
    }
    ++in_use_;
    if (!idle_.empty()) {
        auto c = std::move(idle_.back());
        idle_.pop_back();
        return Lease(*this, std::move(c));
    }
    ++open_;
    lk.unlock();
    try {
        return Lease(*this, connect());
    } catch (...) {
        std::lock_guard relock(mu_);
        --open_;
        --in_use_;
        cv_.notify_one();
        throw;
    }
}

void MysqlStorage::release(std::unique_ptr<Conn> conn, bool broken) {
    std::lock_guard lk(mu_);
    if (in_use_ > 0 && conn) --in_use_;
    if (broken || !conn || conn->generation() != generation_) {
        if (broken) {
            // The server went away: the idle connections went with it.
            ++generation_;
            open_ -= static_cast<int>(idle_.size());
            idle_.clear();
        }
        if (conn) --open_;
    } else {
        idle_.push_back(std::move(conn));
    }
    cv_.notify_all();
}

template <class Fn>
auto MysqlStorage::with_retry(Fn&& fn) {
    for (int attempt = 0;; ++attempt) {
        auto lease = acquire();
        try {
            return fn(*lease);
        } catch (const sql::SQLException& e) {
            const auto kind = classify(e);
            if (kind == StorageErrorKind::kUnavailable) lease.mark_broken();
            if (kind != StorageErrorKind::kUnavailable || attempt >= 1) rethrow(e, "mysql");
        }
    }
}

void MysqlStorage::migrate() {
    auto lease = acquire();
    try {
        auto& c = *lease;
        auto rs = c.query("SELECT GET_LOCK('leadhatch_migrate', 60)");
        if (!rs->next() || rs->getInt(1) != 1) {
            throw StorageError(StorageErrorKind::kUnavailable, "mysql: could not take the migration lock");
        }
        rs.reset();
        struct Unlock {
            Conn& c;
            ~Unlock() {
                try {
                    c.query("SELECT RELEASE_LOCK('leadhatch_migrate')");
                } catch (...) {
                }
            }
        } unlock{c};
        c.exec("CREATE TABLE IF NOT EXISTS schema_version (version INT NOT NULL PRIMARY KEY, name VARCHAR(128) NOT "
               "NULL, applied_at BIGINT NOT NULL) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4");
        for (const auto& m : mysql_migrations()) {
            auto applied = c.query("SELECT 1 FROM schema_version WHERE version = " + std::to_string(m.version));
            if (applied->next()) continue;
            applied.reset();
            spdlog::info("mysql: applying migration {} {}", m.version, m.name);
            // DDL commits implicitly in MySQL: each statement stands alone, the version row comes last.
            for (const auto& stmt : split_sql_statements(m.sql)) c.exec(stmt);
            SqlText q(c);
            q.raw("INSERT INTO schema_version (version, name, applied_at) VALUES (")
                .num(m.version)
                .raw(",")
                .str(m.name)
                .raw(", UNIX_TIMESTAMP() * 1000)");
            c.exec(q.text());
        }
    } catch (const sql::SQLException& e) {
        if (classify(e) == StorageErrorKind::kUnavailable) lease.mark_broken();
        rethrow(e, "migrate");
    }
}

int MysqlStorage::schema_version() {
    return with_retry([](Conn& c) {
        auto t = c.query("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND "
                         "table_name = 'schema_version'");
        if (!t->next() || t->getInt(1) == 0) return 0;
        auto rs = c.query("SELECT COALESCE(MAX(version), 0) FROM schema_version");
        return rs->next() ? rs->getInt(1) : 0;
    });
}

bool MysqlStorage::ping() {
    try {
        return with_retry([](Conn& c) {
            auto rs = c.query("SELECT 1");
            return rs->next();
        });
    } catch (const std::exception&) {
        return false;
    }
}

core::PoolStats MysqlStorage::pool_stats() const {
    std::lock_guard lk(mu_);
    return core::PoolStats{open_, in_use_, options_.pool_size, waits_};
}

core::IdRange MysqlStorage::reserve_ids(std::string_view sequence, std::int64_t count) {
    return with_retry([&](Conn& c) {
        // LAST_INSERT_ID(expr) makes the new value readable on this connection without a lock held.
        SqlText q(c);
        q.raw("UPDATE id_sequences SET next_id = LAST_INSERT_ID(next_id + ").num(count).raw(") WHERE name = ").str(sequence);
        c.exec(q.text());
        auto rs = c.query("SELECT ROW_COUNT(), LAST_INSERT_ID()");
        rs->next();
        if (rs->getInt64(1) == 0) {
            SqlText ins(c);
            ins.raw("INSERT INTO id_sequences (name, next_id) VALUES (").str(sequence).raw(",").num(1 + count).raw(")");
            c.exec(ins.text());
            return core::IdRange{1, count};
        }
        return core::IdRange{rs->getInt64(2) - count, count};
    });
}

std::unique_ptr<core::WriteTx> MysqlStorage::begin_write() {
    // The transaction opens with its first statement (see Tx).
    return std::make_unique<Tx>(*this, acquire());
}

std::optional<core::LeadRecord> MysqlStorage::get_lead(core::LeadId id) {
    return with_retry([&](Conn& c) {
        MysqlExec ex(c);
        return queries::get_lead(ex, id);
    });
}

core::LeadPage MysqlStorage::list_leads(const core::LeadFilter& filter, const std::optional<core::LeadCursor>& after,
                                        int limit) {
    return with_retry([&](Conn& c) {
        MysqlExec ex(c);
        return queries::list_leads(ex, filter, after, limit);
    });
}

std::vector<core::StageHistoryRecord> MysqlStorage::stage_history(core::LeadId lead) {
    return with_retry([&](Conn& c) {
        MysqlExec ex(c);
        return queries::stage_history(ex, lead);
    });
}

std::vector<core::ScoreEntryRecord> MysqlStorage::score_entries(core::LeadId lead) {
    return with_retry([&](Conn& c) {
        MysqlExec ex(c);
        return queries::score_entries(ex, lead);
    });
}

std::vector<core::MergeRecord> MysqlStorage::list_merges(std::optional<std::int64_t> before_id, int limit) {
    return with_retry([&](Conn& c) {
        MysqlExec ex(c);
        return queries::list_merges(ex, before_id, limit);
    });
}

core::FunnelStats MysqlStorage::funnel(const core::FunnelQuery& query) {
    // Two independent passes (leads; stage stays) on two connections at once: each pass reads one
    // snapshot of its own (the counts agree with each other; the medians are of finished stays).
    auto medians = std::async(std::launch::async, [&] {
        return with_retry([&](Conn& c) {
            MysqlExec ex(c);
            // A stage's count and its middle row come from the same snapshot.
            c.exec("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY");
            try {
                auto stays = queries::funnel_medians(ex, query);
                c.exec("COMMIT");
                return stays;
            } catch (...) {
                try {
                    c.exec("ROLLBACK");
                } catch (...) {
                }
                throw;
            }
        });
    });
    auto stats = with_retry([&](Conn& c) {
        MysqlExec ex(c);
        return queries::funnel_counts(ex, query);
    });
    stats.median_ms_in_stage = medians.get();
    return stats;
}

std::vector<core::LeadRecord> MysqlStorage::leads_with_grade_due(core::Timestamp now, int limit) {
    return with_retry([&](Conn& c) {
        MysqlExec ex(c);
        return queries::leads_with_grade_due(ex, now, limit);
    });
}

std::int64_t MysqlStorage::prune_processed(core::Timestamp before, int limit) {
    return with_retry([&](Conn& c) {
        return c.exec_update("DELETE FROM processed_inbound WHERE processed_at < " + std::to_string(ms(before)) +
                             " LIMIT " + std::to_string(limit));
    });
}

std::optional<core::Storage::StoredToken> MysqlStorage::read_token(std::string_view channel_id) {
    return with_retry([&](Conn& c) {
        MysqlExec ex(c);
        return queries::read_token(ex, channel_id);
    });
}

bool MysqlStorage::lease_token_refresh(std::string_view channel_id, core::Timestamp now, core::Timestamp lease_until) {
    return with_retry([&](Conn& c) {
        MysqlExec ex(c);
        return queries::lease_token_refresh(ex, channel_id, now, lease_until);
    });
}

void MysqlStorage::store_token(std::string_view channel_id, const std::string& token, core::Timestamp expires_at,
                               core::Timestamp now) {
    with_retry([&](Conn& c) {
        MysqlExec ex(c);
        queries::store_token(ex, channel_id, token, expires_at, now);
        return 0;
    });
}

std::optional<core::LeadId> MysqlStorage::find_lead_by_identity(const core::IdentityKey& key) {
    return with_retry([&](Conn& c) -> std::optional<core::LeadId> {
        SqlText q(c);
        q.raw("SELECT lead_id FROM lead_identities WHERE channel_id = ")
            .str(key.channel_id)
            .raw(" AND external_user_id = ")
            .str(key.external_user_id);
        auto rs = c.query(q.text());
        if (!rs->next()) return std::nullopt;
        return core::LeadId{rs->getInt64(1)};
    });
}

std::vector<core::EventRecord> MysqlStorage::list_events(core::LeadId lead, std::optional<core::EventId> before_id,
                                                         int limit) {
    return with_retry([&](Conn& c) {
        std::string q = "SELECT id, lead_id, channel_id, kind, actor, occurred_at, data FROM events WHERE lead_id = " +
                        std::to_string(lead.value);
        if (before_id) q += " AND id < " + std::to_string(before_id->value);
        q += " ORDER BY id DESC LIMIT " + std::to_string(limit);
        auto rs = c.query(q);
        std::vector<core::EventRecord> out;
        while (rs->next()) {
            out.push_back(core::EventRecord{core::EventId{rs->getInt64(1)}, core::LeadId{rs->getInt64(2)},
                                            rs->getString(3).asStdString(), rs->getString(4).asStdString(),
                                            rs->getString(5).asStdString(), core::from_epoch_ms(rs->getInt64(6)),
                                            rs->getString(7).asStdString()});
        }
        return out;
    });
}

std::vector<core::MembershipRecord> MysqlStorage::list_memberships(core::LeadId lead) {
    return with_retry([&](Conn& c) {
        auto rs = c.query(
            "SELECT channel_id, chat_id, lead_id, member, joined_at, left_at FROM group_members WHERE lead_id = " +
            std::to_string(lead.value) + " ORDER BY channel_id, chat_id");
        std::vector<core::MembershipRecord> out;
        while (rs->next()) {
            core::MembershipRecord m{rs->getString(1).asStdString(), rs->getString(2).asStdString(),
                                     core::LeadId{rs->getInt64(3)}, rs->getInt(4) != 0, {}, {}};
            if (!rs->isNull(5)) m.joined_at = core::from_epoch_ms(rs->getInt64(5));
            if (!rs->isNull(6)) m.left_at = core::from_epoch_ms(rs->getInt64(6));
            out.push_back(std::move(m));
        }
        return out;
    });
}

std::vector<core::TouchRecord> MysqlStorage::list_touches(core::LeadId lead) {
    return with_retry([&](Conn& c) {
        auto rs = c.query(
            "SELECT lead_id, channel_id, source_kind, campaign, referral_code, referrer_id, at FROM lead_touches "
            "WHERE lead_id = " +
            std::to_string(lead.value) + " ORDER BY id");
        std::vector<core::TouchRecord> out;
        while (rs->next()) {
            out.push_back(core::TouchRecord{core::LeadId{rs->getInt64(1)}, rs->getString(2).asStdString(),
                                            rs->getString(3).asStdString(), rs->getString(4).asStdString(),
                                            rs->getString(5).asStdString(),
                                            core::LeadId{rs->isNull(6) ? 0 : rs->getInt64(6)},
                                            core::from_epoch_ms(rs->getInt64(7))});
        }
        return out;
    });
}

std::vector<core::OutboxRecord> MysqlStorage::claim_outbox(core::Timestamp now, core::Timestamp lease_until,
                                                           int limit) {
    return with_retry([&](Conn& c) {
        std::vector<core::OutboxRecord> out;
        c.exec("START TRANSACTION");
        try {
            // Lock only outbox rows (SKIP LOCKED lets several dispatchers share the table).
            auto ids = c.query("SELECT id FROM outbox WHERE status = 'pending' AND due_at <= " +
                               std::to_string(ms(now)) + " AND lease_until <= " + std::to_string(ms(now)) +
                               " ORDER BY due_at, id LIMIT " + std::to_string(limit) + " FOR UPDATE SKIP LOCKED");
            std::string list;
            while (ids->next()) {
                if (!list.empty()) list += ',';
                list += std::to_string(ids->getInt64(1));
            }
            ids.reset();
            if (!list.empty()) {
                c.exec("UPDATE outbox SET lease_until = " + std::to_string(ms(lease_until)) + " WHERE id IN (" +
                       list + ")");
            }
            c.exec("COMMIT");
            if (list.empty()) return out;
            auto rs = c.query(std::string("SELECT ") + kOutboxColumns + "WHERE o.id IN (" + list +
                              ") ORDER BY o.due_at, o.id");
            while (rs->next()) out.push_back(read_outbox(*rs));
            return out;
        } catch (const sql::SQLException& e) {
            if (classify(e) != StorageErrorKind::kUnavailable) {
                try {
                    c.exec("ROLLBACK");
                } catch (...) {
                }
            }
            throw;
        }
    });
}

void MysqlStorage::complete_outbox(std::span<const core::OutboxResult> results, const core::WriteSet& writes,
                                   core::Timestamp now) {
    auto lease = acquire();
    auto& c = *lease;
    try {
        c.exec("START TRANSACTION");
        Batch batch(c);
        for (const auto& r : results) {
            SqlText q(c);
            if (r.status == core::OutboxStatus::kPending) {
                q.raw("UPDATE outbox SET due_at = ").time(r.retry_at).raw(", attempts = ").num(r.attempts);
                q.raw(", lease_until = 0, last_error = ");
                q.str(r.error.substr(0, 1000)).raw(" WHERE id = ").num(r.id.value);
            } else {
                q.raw("UPDATE outbox SET status = ").str(to_string(r.status)).raw(", attempts = ").num(r.attempts);
                q.raw(", lease_until = 0, last_error = ");
                q.str(r.error.substr(0, 1000));
                if (r.status == core::OutboxStatus::kSent) q.raw(", sent_at = ").time(now);
                q.raw(" WHERE id = ").num(r.id.value);
            }
            batch.add(std::move(q.text()));
        }
        apply_writes(c, batch, writes);
        batch.add("COMMIT");
        batch.flush();
    } catch (const sql::SQLException& e) {
        if (classify(e) == StorageErrorKind::kUnavailable) {
            lease.mark_broken();
        } else {
            try {
                c.exec("ROLLBACK");
            } catch (...) {
                lease.mark_broken();
            }
        }
        rethrow(e, "complete outbox");
    }
}

std::optional<core::Timestamp> MysqlStorage::next_outbox_due() {
    return with_retry([](Conn& c) -> std::optional<core::Timestamp> {
        auto rs = c.query("SELECT MIN(GREATEST(due_at, lease_until)) FROM outbox WHERE status = 'pending'");
        if (!rs->next() || rs->isNull(1)) return std::nullopt;
        return core::from_epoch_ms(rs->getInt64(1));
    });
}

core::OutboxCounts MysqlStorage::outbox_counts() {
    return with_retry([](Conn& c) {
        auto rs = c.query("SELECT status, COUNT(*) FROM outbox GROUP BY status");
        core::OutboxCounts counts;
        while (rs->next()) {
            const auto st = rs->getString(1).asStdString();
            const auto n = rs->getInt64(2);
            if (st == "pending") counts.pending = n;
            else if (st == "sent") counts.sent = n;
            else if (st == "dead") counts.dead = n;
            else if (st == "suppressed") counts.suppressed = n;
        }
        return counts;
    });
}

std::vector<core::OutboxRecord> MysqlStorage::list_outbox(std::optional<core::OutboxStatus> status, int limit) {
    return with_retry([&](Conn& c) {
        SqlText q(c);
        q.raw("SELECT ").raw(kOutboxColumns);
        if (status) q.raw("WHERE o.status = ").str(to_string(*status));
        q.raw(" ORDER BY o.id DESC LIMIT ").num(limit);
        auto rs = c.query(q.text());
        std::vector<core::OutboxRecord> out;
        while (rs->next()) out.push_back(read_outbox(*rs));
        return out;
    });
}

}  // namespace leadhatch::adapters::storage
