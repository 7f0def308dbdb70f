#include "adapters/storage/storage_factory.hpp"

#include <charconv>

#include "adapters/storage/mysql/mysql_storage.hpp"
#include "adapters/storage/sqlite/sqlite_storage.hpp"

namespace leadhatch::adapters::storage {
namespace {

bool percent_decode(std::string_view in, std::string& out) {
    out.clear();
    for (std::size_t i = 0; i < in.size(); ++i) {
        if (in[i] != '%') {
            out += in[i];
            continue;
        }
        if (i + 2 >= in.size()) return false;
        unsigned v = 0;
        auto [p, ec] = std::from_chars(in.data() + i + 1, in.data() + i + 3, v, 16);
        if (ec != std::errc{} || p != in.data() + i + 3) return false;
        out += static_cast<char>(v);
        i += 2;
    }
    return true;
}

core::Error url_error(std::string message) { return core::Error{"invalid", std::move(message), "storage.url"}; }

}  // namespace

core::Expected<StorageUrl> parse_storage_url(std::string_view url, const std::filesystem::path& base_dir) {
    StorageUrl out;
    if (url.starts_with("sqlite:")) {
        std::string_view path = url.substr(7);
        if (path.starts_with("//")) path.remove_prefix(2);  // tolerate sqlite://PATH
        if (path.empty()) return url_error("sqlite URL has no path (use sqlite:PATH or sqlite::memory:)");
        out.kind = StorageUrl::Kind::kSqlite;
        if (path == ":memory:") {
            out.sqlite_path = ":memory:";
        } else {
            std::filesystem::path p{std::string(path)};
            out.sqlite_path = (p.is_absolute() ? p : base_dir / p).lexically_normal().string();
        }
        return out;
    }
    if (!url.starts_with("mysql://")) {
        return url_error("must start with sqlite: or mysql://");
    }
    std::string_view rest = url.substr(8);
    const auto at = rest.rfind('@');
    if (at == std::string_view::npos) return url_error("mysql URL needs USER:PASSWORD@HOST:PORT/DATABASE");
    const std::string_view userinfo = rest.substr(0, at);
    std::string_view hostpart = rest.substr(at + 1);
    const auto colon = userinfo.find(':');
    if (!percent_decode(userinfo.substr(0, colon), out.user) || out.user.empty()) {
        return url_error("mysql URL has no valid user");
    }
    if (colon != std::string_view::npos && !percent_decode(userinfo.substr(colon + 1), out.password)) {
        return url_error("mysql URL password has a bad %-escape");
    }
    const auto slash = hostpart.find('/');
    if (slash == std::string_view::npos || slash + 1 >= hostpart.size()) {
        return url_error("mysql URL has no database name");
    }
    out.database = std::string(hostpart.substr(slash + 1));
    if (out.database.find_first_of("/?`'\" ") != std::string::npos) return url_error("mysql database name is invalid");
    hostpart = hostpart.substr(0, slash);
    const auto pcolon = hostpart.rfind(':');
    if (pcolon != std::string_view::npos) {
        const auto port_text = hostpart.substr(pcolon + 1);
        int port = 0;
        auto [p, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
        if (ec != std::errc{} || p != port_text.data() + port_text.size() || port <= 0 || port > 65535) {
            return url_error("mysql URL port must be 1-65535");
        }
        out.port = port;
        hostpart = hostpart.substr(0, pcolon);
    }
    if (hostpart.empty()) return url_error("mysql URL has no host");
    out.host = std::string(hostpart);
    out.kind = StorageUrl::Kind::kMysql;
    return out;
}

std::unique_ptr<core::Storage> make_storage(const StorageUrl& url, const StorageTuning& tuning) {
    if (url.kind == StorageUrl::Kind::kSqlite) {
        SqliteOptions o;
        o.path = url.sqlite_path;
        o.busy_timeout_ms = tuning.busy_timeout_ms;
        o.max_readers = std::max(1, tuning.pool_size);
        return std::make_unique<SqliteStorage>(std::move(o));
    }
    MysqlOptions o;
    o.host = url.host;
    o.port = url.port;
    o.user = url.user;
    o.password = url.password;
    o.database = url.database;
    o.pool_size = std::max(1, tuning.pool_size);
    return std::make_unique<MysqlStorage>(std::move(o));
}

}  // namespace leadhatch::adapters::storage
