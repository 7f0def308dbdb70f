#include "adapters/storage/sqlite/sqlite_storage.hpp"

#include <spdlog/spdlog.h>

#include <cstdlib>
#include <future>
#include <string>
#include <utility>

#include "adapters/storage/lead_queries.hpp"
#include "adapters/storage/migrations.hpp"
#include "adapters/storage/sql_query.hpp"
#include "adapters/storage/sqlite/sqlite_db.hpp"
#include "adapters/storage/sqlite/wal_vfs.hpp"
#include "core/error.hpp"

namespace leadhatch::adapters::storage {

using core::StorageError;
using core::StorageErrorKind;

namespace {

constexpr int kOpenFlags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_URI;

std::int64_t ms(core::Timestamp t) { return core::to_epoch_ms(t); }
std::optional<std::int64_t> opt_ms(const std::optional<core::Timestamp>& t) {
    return t ? std::optional<std::int64_t>(ms(*t)) : std::nullopt;
}
std::optional<std::int64_t> opt_id(core::LeadId id) {
    return id ? std::optional<std::int64_t>(id.value) : std::nullopt;
}

std::optional<std::int64_t> opt_bool(const std::optional<bool>& b) {
    if (!b) return std::nullopt;
    return *b ? 1 : 0;
}

// Changes whenever the database changes: through this connection's commits, or (noticed when a
// transaction begins) through another connection's.
std::uint32_t data_version(SqliteDb& db) {
    unsigned int v = 0;
    if (const int rc = sqlite3_file_control(db.handle(), "main", SQLITE_FCNTL_DATA_VERSION, &v); rc != SQLITE_OK) {
        throw core::StorageError(core::StorageErrorKind::kInternal,
                                 "sqlite: no data version (SQLITE_FCNTL_DATA_VERSION: " + std::to_string(rc) + ")");
    }
    return v;
}

void configure(SqliteDb& db, bool memory) {
    if (!memory) {
        db.exec("PRAGMA journal_mode=WAL");
        // FULL: a 200 to a webhook means the event survives a power cut, not only a crash. With
        // grouped commits this costs one fsync per group, not per event.
        db.exec("PRAGMA synchronous=FULL");
    }
    db.exec("PRAGMA foreign_keys=OFF");
    db.exec("PRAGMA temp_store=MEMORY");
    // Reads map the file (the OS page cache, shared by every connection and reclaimable, no copy
    // per page) and the writer keeps 16 MiB of pages: with the default 2 MiB cache every lookup
    // in a live database was a trip through pread.
    db.exec("PRAGMA mmap_size=1073741824");
    db.exec("PRAGMA cache_size=-16384");
}

// Runs fn inside BEGIN IMMEDIATE ... COMMIT, rolling back on any exception.
template <class Fn>
auto in_transaction(SqliteDb& db, Fn&& fn) {
    db.exec("BEGIN IMMEDIATE");
    try {
        if constexpr (std::is_void_v<decltype(fn())>) {
            fn();
            db.exec("COMMIT");
        } else {
            auto r = fn();
            db.exec("COMMIT");
            return r;
        }
    } catch (...) {
        try {
            db.exec("ROLLBACK");
        } catch (...) {
        }
        throw;
    }
}

// in_transaction for writes the write cache (SqliteStorage::Tx) either does not hold or mirrors
// (`mirror`, run after the commit): the cache stays as valid as it was before, which only a
// transaction can tell (it notices other connections' commits as it begins).
template <class Fn, class Mirror = void (*)()>
auto in_transaction_beside_cache(SqliteDb& db, std::uint32_t& cache_version, Fn&& fn, Mirror&& mirror = [] {}) {
    bool valid = false;
    const auto run = [&] {
        valid = data_version(db) == cache_version;
        return fn();
    };
    const auto keep = [&] {
        if (!valid) return;
        mirror();
        cache_version = data_version(db);
    };
    if constexpr (std::is_void_v<decltype(fn())>) {
        in_transaction(db, run);
        keep();
    } else {
        auto r = in_transaction(db, run);
        keep();
        return r;
    }
}

core::OutboxStatus parse_status(const std::string& s) {
    if (s == "sent") return core::OutboxStatus::kSent;
    if (s == "dead") return core::OutboxStatus::kDead;
    if (s == "suppressed") return core::OutboxStatus::kSuppressed;
    return core::OutboxStatus::kPending;
}

constexpr const char* kOutboxColumns =
    "o.id, o.channel_id, o.idem_key, o.lead_id, o.chat_id, o.kind, o.body, o.marketing, o.is_group, o.attempts, "
    "o.status, o.due_at, o.last_error, COALESCE(l.opted_out, 0), COALESCE(i.unreachable, 0) "
    "FROM outbox o LEFT JOIN leads l ON l.id = o.lead_id "
    "LEFT JOIN lead_identities i ON i.channel_id = o.channel_id AND i.external_user_id = o.chat_id ";

core::OutboxRecord read_outbox(const SqliteStmt& s) {
    core::OutboxRecord r;
    r.id = core::OutboxId{s.i64(0)};
    r.channel_id = s.text(1);
    r.idem_key = s.text(2);
    r.lead_id = core::LeadId{s.opt_i64(3).value_or(0)};
    r.chat_id = s.text(4);
    r.kind = s.text(5);
    r.body = s.text(6);
    r.marketing = s.i64(7) != 0;
    r.is_group = s.i64(8) != 0;
    r.attempts = static_cast<int>(s.i64(9));
    r.status = parse_status(s.text(10));
    r.due_at = core::from_epoch_ms(s.i64(11));
    r.last_error = s.text(12);
    r.recipient_opted_out = s.i64(13) != 0;
    r.recipient_unreachable = s.i64(14) != 0;
    return r;
}

class SqliteRowView final : public SqlRow {
public:
    explicit SqliteRowView(const SqliteStmt& s) : s_(s) {}
    bool is_null(int col) const override { return s_.is_null(col); }
    std::int64_t i64(int col) const override { return s_.i64(col); }
    double f64(int col) const override { return s_.f64(col); }
    std::string text(int col) const override { return s_.text(col); }

private:
    const SqliteStmt& s_;
};

// Runs dialect-neutral queries on one connection. Statements are cached on the connection up to
// a bound; past it (queries with long IN lists) they are prepared for the one use.
class SqliteExec final : public SqlExec {
public:
    explicit SqliteExec(SqliteDb& db) : db_(db) {}
    Dialect dialect() const override { return Dialect::kSqlite; }
    void run(const SqlQuery& q) override {
        with_stmt(q, [](SqliteStmt& st) { st.run(); });
    }
    void query(const SqlQuery& q, const std::function<void(const SqlRow&)>& row) override {
        with_stmt(q, [&](SqliteStmt& st) {
            SqliteRowView view(st);
            while (st.step()) row(view);
            st.reset();
        });
    }
    std::int64_t changes() override { return db_.changes(); }

private:
    template <class Fn>
    void with_stmt(const SqlQuery& q, Fn&& fn) {
        static constexpr std::size_t kMaxCached = 512;
        if (db_.cached(q.text()) || db_.cache_size() < kMaxCached) {
            auto& st = db_.stmt(q.text());
            bind(st, q);
            fn(st);
        } else {
            SqliteStmt st(db_.handle(), q.text());
            bind(st, q);
            fn(st);
        }
    }
    static void bind(SqliteStmt& st, const SqlQuery& q) {
        int i = 1;
        for (const auto& p : q.params()) {
            std::visit(
                [&](const auto& v) {
                    using T = std::decay_t<decltype(v)>;
                    if constexpr (std::is_same_v<T, std::nullptr_t>) {
                        st.bind_null(i);
                    } else {
                        st.bind(i, v);
                    }
                },
                p);
            ++i;
        }
    }
    SqliteDb& db_;
};

// Rows in chunks (see kRowsPerInsert), bound straight to the cached statement (queries::
// insert_rows goes through SqlQuery, which copies every value). head: "INSERT INTO t (a, b, c)";
// bind(stmt, first, row) binds the row's values from index first.
template <class Rows, class Bind>
void insert_rows(SqliteDb& db, std::string_view head, int columns, const Rows& rows, Bind&& bind) {
    std::string row = "(?";
    for (int c = 1; c < columns; ++c) row += ",?";
    row += ')';
    std::string sql;
    std::size_t rows_in_sql = 0;  // every chunk but the last has the same size: one text for them
    for_each_insert_chunk(rows.size(), [&](std::size_t first, std::size_t n) {
        if (n != rows_in_sql) {
            sql.assign(head).append(" VALUES ");
            for (std::size_t r = 0; r < n; ++r) {
                if (r) sql += ',';
                sql += row;
            }
            rows_in_sql = n;
        }
        auto& st = db.stmt(sql);
        for (std::size_t r = 0; r < n; ++r) bind(st, static_cast<int>(r) * columns + 1, rows[first + r]);
        st.run();
    });
}

// Writes a WriteSet with prepared statements inside the caller's transaction.
void apply_writes(SqliteDb& db, const core::WriteSet& w) {
    insert_rows(db, "INSERT INTO processed_inbound (channel_id, inbound_id, processed_at)", 3, w.processed,
                [&](SqliteStmt& st, int i, const core::InboundKey& p) {
                    st.bind(i, p.channel_id).bind(i + 1, p.inbound_id).bind(i + 2, ms(w.now));
                });
    for (const auto& l : w.new_leads) {
        db.stmt("INSERT INTO stage_history (lead_id, stage, entered_at, actor, reason) VALUES (?1, ?2, ?3, 'system', "
                "'created')")
            .bind(1, l.id.value)
            .bind(2, l.stage)
            .bind(3, ms(l.created_at))
            .run();
        db.stmt("INSERT INTO leads (id, display_name, username, language, phone, source_kind, source_channel, "
                "source_campaign, source_detail, referral_code, referred_by, stage_changed_at, created_at, "
                "updated_at, last_seen_at, stage, owner, status, status_changed_at, lifecycle, score, grade, "
                "demographic_score, behavioral_score, score_at, grade_expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, "
                "?7, ?8, ?9, ?10, ?11, ?12, ?12, ?14, ?15, ?13, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25)")
            .bind(1, l.id.value)
            .bind(2, l.display_name)
            .bind(3, l.username)
            .bind(4, l.language)
            .bind(5, l.phone)
            .bind(6, l.source_kind)
            .bind(7, l.source_channel)
            .bind(8, l.source_campaign)
            .bind(9, l.source_detail)
            .bind(10, l.referral_code)
            .bind(11, opt_id(l.referred_by))
            .bind(12, ms(l.created_at))
            .bind(13, l.stage)
            .bind(14, ms(l.updated_at.value_or(l.created_at)))
            .bind(15, ms(l.last_seen_at.value_or(l.created_at)))
            .bind(16, l.owner)
            .bind(17, l.status)
            .bind(18, opt_ms(l.status_changed_at))
            .bind(19, l.lifecycle)
            .bind(20, l.score)
            .bind(21, l.grade)
            .bind(22, l.demographic_score)
            .bind(23, l.behavioral_score)
            .bind(24, ms(l.score_at))
            .bind(25, opt_ms(l.grade_expires_at))
            .run();
    }
    for (const auto& i : w.new_identities) {
        db.stmt("INSERT INTO lead_identities (channel_id, external_user_id, lead_id, display_name, username, "
                "language, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)")
            .bind(1, i.key.channel_id)
            .bind(2, i.key.external_user_id)
            .bind(3, i.lead_id.value)
            .bind(4, i.display_name)
            .bind(5, i.username)
            .bind(6, i.language)
            .bind(7, ms(i.at))
            .run();
    }
    for (const auto& u : w.identity_updates) {
        db.stmt("UPDATE lead_identities SET display_name = COALESCE(?1, display_name), "
                "username = COALESCE(?2, username), language = COALESCE(?3, language), "
                "unreachable = COALESCE(?4, unreachable), menu = COALESCE(?8, menu), updated_at = ?5 "
                "WHERE channel_id = ?6 AND external_user_id = ?7")
            .bind(1, u.display_name)
            .bind(2, u.username)
            .bind(3, u.language)
            .bind(4, opt_bool(u.unreachable))
            .bind(5, ms(u.at))
            .bind(6, u.key.channel_id)
            .bind(7, u.key.external_user_id)
            .bind(8, u.menu)
            .run();
        if (u.unreachable) {
            db.stmt("UPDATE leads SET unreachable = NOT EXISTS (SELECT 1 FROM lead_identities i "
                    "WHERE i.lead_id = leads.id AND i.unreachable = 0), updated_at = ?1 "
                    "WHERE id = (SELECT lead_id FROM lead_identities WHERE channel_id = ?2 AND external_user_id = ?3)")
                .bind(1, ms(u.at))
                .bind(2, u.key.channel_id)
                .bind(3, u.key.external_user_id)
                .run();
        }
    }
    for (const auto& u : w.lead_updates) {
        if (u.extended()) continue;  // queries::apply_extended writes those
        if (!u.changes_record()) {
            if (!u.last_seen_at) continue;
            db.stmt("UPDATE leads SET last_seen_at = ?1 WHERE id = ?2 AND (last_seen_at IS NULL OR last_seen_at < ?1)")
                .bind(1, ms(*u.last_seen_at))
                .bind(2, u.id.value)
                .run();
            continue;
        }
        db.stmt("UPDATE leads SET display_name = COALESCE(?1, display_name), username = COALESCE(?2, username), "
                "language = COALESCE(?3, language), phone = COALESCE(?4, phone), "
                "opted_out_at = CASE WHEN ?5 = 1 AND opted_out = 0 THEN ?9 WHEN ?5 = 0 THEN NULL "
                "ELSE opted_out_at END, opted_out = COALESCE(?5, opted_out), "
                "unreachable = COALESCE(?6, unreachable), "
                "last_seen_at = CASE WHEN ?7 IS NOT NULL AND (last_seen_at IS NULL OR ?7 > last_seen_at) "
                "THEN ?7 ELSE last_seen_at END, referral_count = referral_count + ?8, updated_at = ?9 WHERE id = ?10")
            .bind(1, u.display_name)
            .bind(2, u.username)
            .bind(3, u.language)
            .bind(4, u.phone)
            .bind(5, opt_bool(u.opted_out))
            .bind(6, opt_bool(u.unreachable))
            .bind(7, opt_ms(u.last_seen_at))
            .bind(8, u.referral_count_delta)
            .bind(9, ms(u.at))
            .bind(10, u.id.value)
            .run();
    }
    for (const auto& t : w.touches) {
        db.stmt("INSERT INTO lead_touches (lead_id, channel_id, source_kind, campaign, referral_code, referrer_id, "
                "detail, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)")
            .bind(1, t.lead_id.value)
            .bind(2, t.channel_id)
            .bind(3, t.source_kind)
            .bind(4, t.campaign)
            .bind(5, t.referral_code)
            .bind(6, opt_id(t.referrer))
            .bind(7, t.detail)
            .bind(8, ms(t.at))
            .run();
    }
    for (const auto& c : w.chats) {
        db.stmt("INSERT INTO chats (channel_id, chat_id, type, title, bot_member, updated_at) "
                "VALUES (?1, ?2, ?3, ?4, COALESCE(?5, 1), ?6) ON CONFLICT (channel_id, chat_id) DO UPDATE SET "
                "type = excluded.type, title = CASE WHEN excluded.title <> '' THEN excluded.title ELSE chats.title END, "
                "bot_member = COALESCE(?5, chats.bot_member), updated_at = excluded.updated_at")
            .bind(1, c.channel_id)
            .bind(2, c.chat_id)
            .bind(3, c.type)
            .bind(4, c.title)
            .bind(5, opt_bool(c.bot_member))
            .bind(6, ms(c.at))
            .run();
    }
    for (const auto& m : w.memberships) {
        db.stmt("INSERT INTO group_members (channel_id, chat_id, lead_id, member, joined_at, left_at, updated_at) "
                "VALUES (?1, ?2, ?3, ?4, CASE WHEN ?4 = 1 THEN ?5 END, CASE WHEN ?4 = 0 THEN ?5 END, ?5) "
                "ON CONFLICT (channel_id, chat_id, lead_id) DO UPDATE SET member = excluded.member, "
                "joined_at = COALESCE(excluded.joined_at, group_members.joined_at), "
                "left_at = CASE WHEN excluded.member = 1 THEN NULL ELSE excluded.left_at END, "
                "updated_at = excluded.updated_at")
            .bind(1, m.channel_id)
            .bind(2, m.chat_id)
            .bind(3, m.lead_id.value)
            .bind(4, m.member)
            .bind(5, ms(m.at))
            .run();
    }
    {
        SqliteExec ex(db);
        queries::apply_extended(ex, w);
    }
    insert_rows(db, "INSERT INTO events (lead_id, channel_id, kind, actor, occurred_at, recorded_at, data)", 7, w.events,
                [&](SqliteStmt& st, int i, const core::EventRow& e) {
                    st.bind(i, e.lead_id.value)
                        .bind(i + 1, e.channel_id)
                        .bind(i + 2, e.kind)
                        .bind(i + 3, e.actor)
                        .bind(i + 4, ms(e.occurred_at))
                        .bind(i + 5, ms(w.now))
                        .bind(i + 6, e.data);
                });
    for (const auto& o : w.outbox) {
        db.stmt("INSERT INTO outbox (channel_id, idem_key, lead_id, chat_id, kind, body, marketing, is_group, "
                "due_at, created_at, status, sent_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, "
                "CASE WHEN ?11 = 'sent' THEN ?10 END) ON CONFLICT (idem_key) DO NOTHING")
            .bind(1, o.channel_id)
            .bind(2, o.idem_key)
            .bind(3, opt_id(o.lead_id))
            .bind(4, o.chat_id)
            .bind(5, o.kind)
            .bind(6, o.body)
            .bind(7, o.marketing)
            .bind(8, o.is_group)
            .bind(9, ms(o.due_at))
            .bind(10, ms(o.created_at))
            .bind(11, o.status)
            .run();
    }
}

}  // namespace

// The open write transaction holds the writer lock for its whole life.
class SqliteStorage::Tx final : public core::WriteTx {
public:
    Tx(std::unique_lock<std::mutex> lock, SqliteStorage& owner)
        : lock_(std::move(lock)), owner_(owner), db_(*owner.writer_), cache_(owner.cache_) {
        db_.exec("BEGIN IMMEDIATE");
        // Any commit since this cache's last one (another path of this process, or another
        // process) may have changed what it holds.
        if (data_version(db_) != owner_.cache_version_) cache_.clear();
    }
    ~Tx() override {
        if (!done_) {
            cache_.clear();  // it mirrored writes that are now rolled back
            try {
                db_.exec("ROLLBACK");
            } catch (const std::exception& e) {
                spdlog::warn("sqlite rollback failed: {}", e.what());
            }
        }
    }

    std::vector<core::InboundKey> find_processed(std::span<const core::InboundKey> keys) override {
        std::vector<core::InboundKey> found;
        auto& s = db_.stmt("SELECT 1 FROM processed_inbound WHERE channel_id = ?1 AND inbound_id = ?2");
        for (const auto& k : keys) {
            s.bind(1, k.channel_id).bind(2, k.inbound_id);
            if (s.step()) found.push_back(k);
            s.reset();
        }
        return found;
    }

    // From the write cache, else read (and remembered).
    std::vector<core::IdentityRecord> find_identities(std::span<const core::IdentityKey> keys) override {
        std::vector<core::IdentityRecord> found;
        found.reserve(keys.size());
        for (const auto& k : keys) {
            if (auto cached = cache_.identity(k)) {
                if (owner_.check_cache_) check_cached(*cached);
                found.push_back(std::move(*cached));
            } else if (auto read = read_identity(k)) {
                cache_.remember(*read);
                found.push_back(std::move(*read));
            }
        }
        return found;
    }

    std::optional<core::IdentityRecord> read_identity(const core::IdentityKey& k) {
        auto& s = db_.stmt(
            "SELECT i.lead_id, i.display_name, i.username, i.language, i.unreachable, l.opted_out, l.stage, l.status, "
            "l.lifecycle, l.score, l.grade, l.demographic_score, l.behavioral_score, l.score_at, i.menu, "
            "l.grade_expires_at FROM lead_identities i JOIN leads l ON l.id = i.lead_id "
            "WHERE i.channel_id = ?1 AND i.external_user_id = ?2");
        std::optional<core::IdentityRecord> found;
        s.bind(1, k.channel_id).bind(2, k.external_user_id);
        if (s.step()) {
            core::IdentityRecord r;
            r.key = k;
            r.lead_id = core::LeadId{s.i64(0)};
            r.display_name = s.text(1);
            r.username = s.text(2);
            r.language = s.text(3);
            r.unreachable = s.i64(4) != 0;
            r.lead_opted_out = s.i64(5) != 0;
            r.stage = s.text(6);
            r.status = s.text(7);
            r.lifecycle = s.text(8);
            r.score = s.i64(9);
            r.grade = s.text(10);
            r.demographic_score = s.i64(11);
            r.behavioral_score = s.f64(12);
            r.score_at = core::from_epoch_ms(s.i64(13));
            r.menu = s.text(14);
            if (!s.is_null(15)) r.grade_expires_at = core::from_epoch_ms(s.i64(15));
            found = std::move(r);
        }
        s.reset();
        return found;
    }

    // LEADHATCH_CHECK_WRITE_CACHE (tests): every cached answer is read again and must match.
    void check_cached(const core::IdentityRecord& c) {
        const auto d = read_identity(c.key);
        const auto differs = [&](const char* field) {
            throw core::StorageError(core::StorageErrorKind::kInternal,
                                     std::string("write cache out of date: identity ") + c.key.channel_id + "/" +
                                         c.key.external_user_id + " field " + field);
        };
        if (!d) differs("(row gone)");
        if (d->lead_id != c.lead_id) differs("lead_id");
        if (d->display_name != c.display_name) differs("display_name");
        if (d->username != c.username) differs("username");
        if (d->language != c.language) differs("language");
        if (d->unreachable != c.unreachable) differs("unreachable");
        if (d->lead_opted_out != c.lead_opted_out) differs("opted_out");
        if (d->stage != c.stage) differs("stage");
        if (d->status != c.status) differs("status");
        if (d->lifecycle != c.lifecycle) differs("lifecycle");
        if (d->score != c.score) differs("score");
        if (d->grade != c.grade) differs("grade");
        if (d->demographic_score != c.demographic_score) differs("demographic_score");
        if (d->behavioral_score != c.behavioral_score) differs("behavioral_score");
        if (d->score_at != c.score_at) differs("score_at");
        if (d->grade_expires_at != c.grade_expires_at) differs("grade_expires_at");
        if (d->menu != c.menu) differs("menu");
    }

    bool lead_exists(core::LeadId id) override {
        auto& s = db_.stmt("SELECT 1 FROM leads WHERE id = ?1 AND merged_into IS NULL");
        s.bind(1, id.value);
        const bool found = s.step();
        s.reset();
        return found;
    }

    std::optional<core::LeadRecord> lead_for_update(core::LeadId id) override {
        SqliteExec ex(db_);
        return queries::get_lead(ex, id, true);  // the write lock is already ours
    }

    std::vector<core::RuleTotal> rule_totals(core::LeadId id, std::span<const std::string> rule_ids) override {
        SqliteExec ex(db_);
        return queries::rule_totals(ex, id, rule_ids);
    }

    std::vector<std::pair<core::LeadId, core::RuleTotal>> rule_totals_for(
        std::span<const std::pair<core::LeadId, std::string>> keys) override {
        // From the write cache, else in-process point reads on the primary key: cheaper than
        // building, caching and binding one IN-list statement per batch shape.
        std::vector<std::pair<core::LeadId, core::RuleTotal>> found;
        for (const auto& [id, rule] : keys) {
            auto known = cache_.total(id, rule);
            if (known && owner_.check_cache_) {
                const auto d = read_total(id, rule);
                if (d.has_value() != known->has_value() ||
                    (d && (d->total != (*known)->total || d->period_start != (*known)->period_start ||
                           d->period_points != (*known)->period_points))) {
                    throw core::StorageError(core::StorageErrorKind::kInternal,
                                             "write cache out of date: rule total " + rule + " of lead " +
                                                 std::to_string(id.value));
                }
            }
            if (!known) {
                known = read_total(id, rule);
                cache_.remember_total(id, rule, *known);
            }
            if (*known) found.emplace_back(id, std::move(**known));
        }
        return found;
    }

    std::optional<core::RuleTotal> read_total(core::LeadId id, const std::string& rule) {
        auto& s = db_.stmt(
            "SELECT total, period_start, period_points FROM lead_rule_totals WHERE lead_id = ?1 AND rule_id = ?2");
        s.bind(1, id.value).bind(2, rule);
        std::optional<core::RuleTotal> found;
        if (s.step()) found = core::RuleTotal{rule, s.i64(0), core::from_epoch_ms(s.i64(1)), s.i64(2)};
        s.reset();
        return found;
    }

    std::vector<core::LeadId> leads_with_verified(std::string_view phone, std::string_view email,
                                                  core::LeadId except) override {
        SqliteExec ex(db_);
        return queries::leads_with_verified(ex, phone, email, except);
    }

    void apply(const core::WriteSet& writes) override {
        apply_writes(db_, writes);
        cache_.apply(writes);
    }

    void commit() override {
        db_.exec("COMMIT");
        done_ = true;
        owner_.cache_version_ = data_version(db_);
    }

private:
    std::unique_lock<std::mutex> lock_;
    SqliteStorage& owner_;
    SqliteDb& db_;
    core::LeadStateCache& cache_;
    bool done_ = false;
};

// A connection for reading: a pooled reader, or the single connection of a memory database.
class SqliteStorage::ReadLease {
public:
    ReadLease(SqliteStorage& owner, std::unique_ptr<SqliteDb> reader)
        : owner_(&owner), reader_(std::move(reader)), db_(reader_.get()) {}
    ReadLease(std::unique_lock<std::mutex> lock, SqliteDb& db) : lock_(std::move(lock)), db_(&db) {}
    ReadLease(ReadLease&& other) noexcept
        : owner_(std::exchange(other.owner_, nullptr)),
          reader_(std::move(other.reader_)),
          lock_(std::move(other.lock_)),
          db_(other.db_) {}
    ReadLease(const ReadLease&) = delete;
    ReadLease& operator=(const ReadLease&) = delete;
    ReadLease& operator=(ReadLease&&) = delete;
    ~ReadLease() {
        if (owner_ && reader_) {
            std::lock_guard lk(owner_->readers_mu_);
            owner_->idle_readers_.push_back(std::move(reader_));
            --owner_->readers_in_use_;
            owner_->readers_cv_.notify_one();
        }
    }
    SqliteDb& db() { return *db_; }

private:
    SqliteStorage* owner_ = nullptr;
    std::unique_ptr<SqliteDb> reader_;
    std::unique_lock<std::mutex> lock_;
    SqliteDb* db_;
};

SqliteStorage::SqliteStorage(SqliteOptions options) : options_(std::move(options)) {
    // Tests set this to read every cached answer of the write transactions again (Tx).
    const char* check = std::getenv("LEADHATCH_CHECK_WRITE_CACHE");
    check_cache_ = check != nullptr && *check != '\0' && *check != '0';
    memory_ = options_.path == ":memory:" || options_.path.empty();
    // The writer gathers each commit's log writes into one (wal_vfs.hpp); that relies on the
    // synchronous=FULL that configure() sets, checked here.
    writer_ = std::make_unique<SqliteDb>(memory_ ? std::string(":memory:") : options_.path, kOpenFlags,
                                         options_.busy_timeout_ms, memory_ ? nullptr : wal_buffering_vfs());
    configure(*writer_, memory_);
    if (!memory_) {
        auto& sync = writer_->stmt("PRAGMA synchronous");
        if (!sync.step() || sync.i64(0) < 2) {
            throw core::StorageError(core::StorageErrorKind::kInternal, "sqlite writer is not synchronous=FULL");
        }
        sync.reset();
    }
}

SqliteStorage::~SqliteStorage() = default;

SqliteStorage::ReadLease SqliteStorage::read() {
    if (memory_) return ReadLease(std::unique_lock(write_mu_), *writer_);
    std::unique_lock lk(readers_mu_);
    readers_cv_.wait(lk, [&] { return !idle_readers_.empty() || readers_open_ < options_.max_readers; });
    ++readers_in_use_;
    if (!idle_readers_.empty()) {
        auto db = std::move(idle_readers_.back());
        idle_readers_.pop_back();
        return ReadLease(*this, std::move(db));
    }
    ++readers_open_;
    lk.unlock();
    try {
        auto db = std::make_unique<SqliteDb>(options_.path, kOpenFlags, options_.busy_timeout_ms);
        db->exec("PRAGMA query_only=1");
        db->exec("PRAGMA mmap_size=1073741824");  // see configure()
        return ReadLease(*this, std::move(db));
    } catch (...) {
        std::lock_guard relock(readers_mu_);
        --readers_open_;
        --readers_in_use_;
        readers_cv_.notify_one();
        throw;
    }
}

void SqliteStorage::migrate() {
    std::lock_guard lk(write_mu_);
    auto& db = *writer_;
    db.exec("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, name TEXT NOT NULL, "
            "applied_at INTEGER NOT NULL)");
    for (const auto& m : sqlite_migrations()) {
        in_transaction(db, [&] {
            auto& s = db.stmt("SELECT 1 FROM schema_version WHERE version = ?1");
            s.bind(1, m.version);
            const bool applied = s.step();
            s.reset();
            if (applied) return;
            spdlog::info("sqlite: applying migration {} {}", m.version, m.name);
            db.exec(m.sql);
            db.stmt("INSERT INTO schema_version (version, name, applied_at) VALUES (?1, ?2, "
                    "CAST(strftime('%s','now') AS INTEGER) * 1000)")
                .bind(1, m.version)
                .bind(2, m.name)
                .run();
        });
    }
}

int SqliteStorage::schema_version() {
    auto lease = read();
    auto& s = lease.db().stmt(
        "SELECT COALESCE(MAX(version), 0) FROM schema_version WHERE EXISTS "
        "(SELECT 1 FROM sqlite_master WHERE name = 'schema_version')");
    int v = 0;
    try {
        if (s.step()) v = static_cast<int>(s.i64(0));
    } catch (const StorageError&) {
        v = 0;
    }
    s.reset();
    return v;
}

bool SqliteStorage::ping() {
    try {
        auto lease = read();
        auto& s = lease.db().stmt("SELECT 1");
        const bool ok = s.step();
        s.reset();
        return ok;
    } catch (const std::exception&) {
        return false;
    }
}

core::PoolStats SqliteStorage::pool_stats() const {
    std::lock_guard lk(readers_mu_);
    return core::PoolStats{readers_open_ + 1, readers_in_use_, options_.max_readers + 1, 0};
}

core::IdRange SqliteStorage::reserve_ids(std::string_view sequence, std::int64_t count) {
    std::lock_guard lk(write_mu_);
    auto& db = *writer_;
    return in_transaction_beside_cache(db, cache_version_, [&] {
        auto& s = db.stmt("UPDATE id_sequences SET next_id = next_id + ?1 WHERE name = ?2 RETURNING next_id - ?1");
        s.bind(1, count).bind(2, sequence);
        std::int64_t first = 0;
        if (s.step()) {
            first = s.i64(0);
            s.reset();
        } else {
            s.reset();
            db.stmt("INSERT INTO id_sequences (name, next_id) VALUES (?1, ?2)").bind(1, sequence).bind(2, 1 + count).run();
            first = 1;
        }
        return core::IdRange{first, count};
    });
}

std::unique_ptr<core::WriteTx> SqliteStorage::begin_write() {
    std::unique_lock lk(write_mu_);
    return std::make_unique<Tx>(std::move(lk), *this);
}

std::optional<core::LeadRecord> SqliteStorage::get_lead(core::LeadId id) {
    auto lease = read();
    SqliteExec ex(lease.db());
    return queries::get_lead(ex, id);
}

core::LeadPage SqliteStorage::list_leads(const core::LeadFilter& filter, const std::optional<core::LeadCursor>& after,
                                         int limit) {
    auto lease = read();
    SqliteExec ex(lease.db());
    return queries::list_leads(ex, filter, after, limit);
}

std::vector<core::StageHistoryRecord> SqliteStorage::stage_history(core::LeadId lead) {
    auto lease = read();
    SqliteExec ex(lease.db());
    return queries::stage_history(ex, lead);
}

std::vector<core::ScoreEntryRecord> SqliteStorage::score_entries(core::LeadId lead) {
    auto lease = read();
    SqliteExec ex(lease.db());
    return queries::score_entries(ex, lead);
}

std::vector<core::MergeRecord> SqliteStorage::list_merges(std::optional<std::int64_t> before_id, int limit) {
    auto lease = read();
    SqliteExec ex(lease.db());
    return queries::list_merges(ex, before_id, limit);
}

core::FunnelStats SqliteStorage::funnel(const core::FunnelQuery& query) {
    // Two independent passes (leads; stage stays) on two read connections at once, each in one
    // snapshot of its own (the counts agree with each other; the medians are of finished stays).
    auto medians = std::async(std::launch::async, [&] {
        auto lease = read();
        SqliteExec ex(lease.db());
        // A stage's count and its middle row come from the same snapshot.
        lease.db().exec("BEGIN");
        try {
            auto stays = queries::funnel_medians(ex, query);
            lease.db().exec("COMMIT");
            return stays;
        } catch (...) {
            lease.db().exec("ROLLBACK");
            throw;
        }
    });
    auto lease = read();
    SqliteExec ex(lease.db());
    auto stats = queries::funnel_counts(ex, query);
    stats.median_ms_in_stage = medians.get();
    return stats;
}

std::vector<core::LeadRecord> SqliteStorage::leads_with_grade_due(core::Timestamp now, int limit) {
    auto lease = read();
    SqliteExec ex(lease.db());
    return queries::leads_with_grade_due(ex, now, limit);
}

std::int64_t SqliteStorage::prune_processed(core::Timestamp before, int limit) {
    std::lock_guard lk(write_mu_);
    auto& db = *writer_;
    return in_transaction_beside_cache(db, cache_version_, [&] {
        db.stmt("DELETE FROM processed_inbound WHERE (channel_id, inbound_id) IN (SELECT channel_id, inbound_id "
                "FROM processed_inbound WHERE processed_at < ?1 LIMIT ?2)")
            .bind(1, ms(before))
            .bind(2, limit)
            .run();
        return db.changes();
    });
}

std::optional<core::Storage::StoredToken> SqliteStorage::read_token(std::string_view channel_id) {
    auto lease = read();
    SqliteExec ex(lease.db());
    return queries::read_token(ex, channel_id);
}

bool SqliteStorage::lease_token_refresh(std::string_view channel_id, core::Timestamp now, core::Timestamp lease_until) {
    std::lock_guard lk(write_mu_);
    return in_transaction_beside_cache(*writer_, cache_version_, [&] {
        SqliteExec ex(*writer_);
        return queries::lease_token_refresh(ex, channel_id, now, lease_until);
    });
}

void SqliteStorage::store_token(std::string_view channel_id, const std::string& token, core::Timestamp expires_at,
                                core::Timestamp now) {
    std::lock_guard lk(write_mu_);
    in_transaction_beside_cache(*writer_, cache_version_, [&] {
        SqliteExec ex(*writer_);
        queries::store_token(ex, channel_id, token, expires_at, now);
    });
}

std::optional<core::LeadId> SqliteStorage::find_lead_by_identity(const core::IdentityKey& key) {
    auto lease = read();
    auto& s =
        lease.db().stmt("SELECT lead_id FROM lead_identities WHERE channel_id = ?1 AND external_user_id = ?2");
    s.bind(1, key.channel_id).bind(2, key.external_user_id);
    std::optional<core::LeadId> r;
    if (s.step()) r = core::LeadId{s.i64(0)};
    s.reset();
    return r;
}

std::vector<core::EventRecord> SqliteStorage::list_events(core::LeadId lead, std::optional<core::EventId> before_id,
                                                          int limit) {
    auto lease = read();
    auto& s = lease.db().stmt(
        "SELECT id, lead_id, channel_id, kind, actor, occurred_at, data FROM events "
        "WHERE lead_id = ?1 AND id < ?2 ORDER BY id DESC LIMIT ?3");
    s.bind(1, lead.value).bind(2, before_id ? before_id->value : INT64_MAX).bind(3, limit);
    std::vector<core::EventRecord> out;
    while (s.step()) {
        out.push_back(core::EventRecord{core::EventId{s.i64(0)}, core::LeadId{s.i64(1)}, s.text(2), s.text(3),
                                        s.text(4), core::from_epoch_ms(s.i64(5)), s.text(6)});
    }
    s.reset();
    return out;
}

std::vector<core::MembershipRecord> SqliteStorage::list_memberships(core::LeadId lead) {
    auto lease = read();
    auto& s = lease.db().stmt(
        "SELECT channel_id, chat_id, lead_id, member, joined_at, left_at FROM group_members WHERE lead_id = ?1 "
        "ORDER BY channel_id, chat_id");
    s.bind(1, lead.value);
    std::vector<core::MembershipRecord> out;
    while (s.step()) {
        core::MembershipRecord m{s.text(0), s.text(1), core::LeadId{s.i64(2)}, s.i64(3) != 0, {}, {}};
        if (auto v = s.opt_i64(4)) m.joined_at = core::from_epoch_ms(*v);
        if (auto v = s.opt_i64(5)) m.left_at = core::from_epoch_ms(*v);
        out.push_back(std::move(m));
    }
    s.reset();
    return out;
}

std::vector<core::TouchRecord> SqliteStorage::list_touches(core::LeadId lead) {
    auto lease = read();
    auto& s = lease.db().stmt(
        "SELECT lead_id, channel_id, source_kind, campaign, referral_code, referrer_id, at FROM lead_touches "
        "WHERE lead_id = ?1 ORDER BY id");
    s.bind(1, lead.value);
    std::vector<core::TouchRecord> out;
    while (s.step()) {
        out.push_back(core::TouchRecord{core::LeadId{s.i64(0)}, s.text(1), s.text(2), s.text(3), s.text(4),
                                        core::LeadId{s.opt_i64(5).value_or(0)}, core::from_epoch_ms(s.i64(6))});
    }
    s.reset();
    return out;
}

std::vector<core::OutboxRecord> SqliteStorage::claim_outbox(core::Timestamp now, core::Timestamp lease_until,
                                                            int limit) {
    std::lock_guard lk(write_mu_);
    auto& db = *writer_;
    // A claim writes only outbox leases.
    return in_transaction_beside_cache(db, cache_version_, [&] {
        std::vector<core::OutboxRecord> out;
        auto& s = db.stmt(std::string("SELECT ") + kOutboxColumns +
                          "WHERE o.status = 'pending' AND o.due_at <= ?1 AND o.lease_until <= ?1 "
                          "ORDER BY o.due_at, o.id LIMIT ?2");
        s.bind(1, ms(now)).bind(2, limit);
        while (s.step()) out.push_back(read_outbox(s));
        s.reset();
        auto& u = db.stmt("UPDATE outbox SET lease_until = ?1 WHERE id = ?2");
        for (auto& r : out) u.bind(1, ms(lease_until)).bind(2, r.id.value).run();
        return out;
    });
}

void SqliteStorage::complete_outbox(std::span<const core::OutboxResult> results, const core::WriteSet& writes,
                                    core::Timestamp now) {
    std::lock_guard lk(write_mu_);
    auto& db = *writer_;
    // Outbox rows, and writes the write cache mirrors as a transaction's own.
    in_transaction_beside_cache(db, cache_version_, [&] {
        for (const auto& r : results) {
            if (r.status == core::OutboxStatus::kPending) {
                db.stmt("UPDATE outbox SET due_at = ?1, lease_until = 0, last_error = ?2, attempts = ?3 WHERE id = ?4")
                    .bind(1, ms(r.retry_at))
                    .bind(2, r.error)
                    .bind(3, r.attempts)
                    .bind(4, r.id.value)
                    .run();
            } else {
                db.stmt("UPDATE outbox SET status = ?1, lease_until = 0, last_error = ?2, attempts = ?5, "
                        "sent_at = CASE WHEN ?1 = 'sent' THEN ?3 ELSE sent_at END WHERE id = ?4")
                    .bind(1, to_string(r.status))
                    .bind(2, r.error)
                    .bind(3, ms(now))
                    .bind(4, r.id.value)
                    .bind(5, r.attempts)
                    .run();
            }
        }
        apply_writes(db, writes);
    }, [&] { cache_.apply(writes); });
}

std::optional<core::Timestamp> SqliteStorage::next_outbox_due() {
    auto lease = read();
    auto& s = lease.db().stmt("SELECT MIN(MAX(due_at, lease_until)) FROM outbox WHERE status = 'pending'");
    std::optional<core::Timestamp> r;
    if (s.step() && !s.is_null(0)) r = core::from_epoch_ms(s.i64(0));
    s.reset();
    return r;
}

core::OutboxCounts SqliteStorage::outbox_counts() {
    auto lease = read();
    auto& s = lease.db().stmt("SELECT status, COUNT(*) FROM outbox GROUP BY status");
    core::OutboxCounts c;
    while (s.step()) {
        const auto st = s.text(0);
        const auto n = s.i64(1);
        if (st == "pending") c.pending = n;
        else if (st == "sent") c.sent = n;
        else if (st == "dead") c.dead = n;
        else if (st == "suppressed") c.suppressed = n;
    }
    s.reset();
    return c;
}

std::vector<core::OutboxRecord> SqliteStorage::list_outbox(std::optional<core::OutboxStatus> status, int limit) {
    auto lease = read();
    auto& s = lease.db().stmt(std::string("SELECT ") + kOutboxColumns +
                              "WHERE (?1 IS NULL OR o.status = ?1) ORDER BY o.id DESC LIMIT ?2");
    if (status) s.bind(1, to_string(*status));
    s.bind(2, limit);
    std::vector<core::OutboxRecord> out;
    while (s.step()) out.push_back(read_outbox(s));
    s.reset();
    return out;
}

}  // namespace leadhatch::adapters::storage
