#include "bot/config.hpp"

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include <nlohmann/json.hpp>

#include <charconv>
#include <cstdlib>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "bot/templates_loader.hpp"

namespace leadhatch::bot {
namespace {

using nlohmann::json;

// Walks the config JSON, collecting every problem with its path instead of stopping at the first.
class Reader {
public:
    explicit Reader(std::vector<ConfigProblem>& problems) : problems_(problems) {}

    void problem(const std::string& path, std::string message) { problems_.push_back({path, std::move(message)}); }

    // Expands ${NAME} from the environment; an unset variable is a problem, never "".
    std::optional<std::string> expand(const std::string& path, const std::string& in) {
        std::string out;
        std::size_t pos = 0;
        bool ok = true;
        while (pos < in.size()) {
            const auto open = in.find("${", pos);
            if (open == std::string::npos) {
                out.append(in, pos);
                break;
            }
            out.append(in, pos, open - pos);
            const auto close = in.find('}', open + 2);
            if (close == std::string::npos) {
                problem(path, "unterminated ${ in value");
                return std::nullopt;
            }
            const std::string name = in.substr(open + 2, close - open - 2);
            static const std::regex kName("[A-Za-z_][A-Za-z0-9_]*");
            if (!std::regex_match(name, kName)) {
                problem(path, "invalid environment variable name '" + name + "'");
                ok = false;
            } else if (const char* v = std::getenv(name.c_str()); v == nullptr) {
                problem(path, "environment variable " + name + " is not set");
                ok = false;
            } else {
                out += v;
            }
            pos = close + 1;
        }
        if (!ok) return std::nullopt;
        return out;
    }

    void known_keys(const json& obj, const std::string& path, std::initializer_list<std::string_view> keys) {
        for (const auto& [k, v] : obj.items()) {
            bool known = false;
            for (auto key : keys) known = known || key == k;
            if (!known) problem(join(path, k), "unknown key");
        }
    }

    std::optional<std::string> string(const json& obj, const std::string& path, const char* key, bool required) {
        const std::string p = join(path, key);
        if (!obj.contains(key)) {
            if (required) problem(p, "required");
            return std::nullopt;
        }
        const auto& v = obj[key];
        if (!v.is_string()) {
            problem(p, "must be a string");
            return std::nullopt;
        }
        return expand(p, v.get<std::string>());
    }

    std::optional<std::int64_t> integer(const json& obj, const std::string& path, const char* key, std::int64_t min,
                                        std::int64_t max) {
        const std::string p = join(path, key);
        if (!obj.contains(key)) return std::nullopt;
        const auto& v = obj[key];
        std::int64_t n = 0;
        if (v.is_number_integer()) {
            n = v.get<std::int64_t>();
        } else if (v.is_string()) {
            auto s = expand(p, v.get<std::string>());
            if (!s) return std::nullopt;
            auto [ptr, ec] = std::from_chars(s->data(), s->data() + s->size(), n);
            if (ec != std::errc{} || ptr != s->data() + s->size()) {
                problem(p, "must be an integer");
                return std::nullopt;
            }
        } else {
            problem(p, "must be an integer");
            return std::nullopt;
        }
        if (n < min || n > max) {
            problem(p, "must be between " + std::to_string(min) + " and " + std::to_string(max));
            return std::nullopt;
        }
        return n;
    }

    std::optional<double> number(const json& obj, const std::string& path, const char* key, double min, double max) {
        const std::string p = join(path, key);
        if (!obj.contains(key)) return std::nullopt;
        const auto& v = obj[key];
        if (!v.is_number()) {
            problem(p, "must be a number");
            return std::nullopt;
        }
        const double d = v.get<double>();
        if (!(d >= min && d <= max)) {
            problem(p, "must be between " + std::to_string(min) + " and " + std::to_string(max));
            return std::nullopt;
        }
        return d;
    }

    std::optional<bool> boolean(const json& obj, const std::string& path, const char* key) {
        const std::string p = join(path, key);
        if (!obj.contains(key)) return std::nullopt;
        if (!obj[key].is_boolean()) {
            problem(p, "must be true or false");
            return std::nullopt;
        }
        return obj[key].get<bool>();
    }

    const json* object(const json& obj, const std::string& path, const char* key, bool required) {
        const std::string p = join(path, key);
        if (!obj.contains(key)) {
            if (required) problem(p, "required");
            return nullptr;
        }
        if (!obj[key].is_object()) {
            problem(p, "must be an object");
            return nullptr;
        }
        return &obj[key];
    }

    static std::string join(const std::string& path, std::string_view key) {
        return path.empty() ? std::string(key) : path + "." + std::string(key);
    }

private:
    std::vector<ConfigProblem>& problems_;
};

struct PlatformKeys {
    core::Platform platform;
    std::vector<std::string> required;
    std::vector<std::string> optional;
};

const std::vector<PlatformKeys>& platform_keys() {
    static const std::vector<PlatformKeys> kKeys{
        {core::Platform::kTelegram, {"bot_token", "secret_token"}, {}},
        {core::Platform::kWechatOa, {"app_id", "app_secret", "token"}, {"encoding_aes_key"}},
        {core::Platform::kWecom, {"corp_id", "agent_id", "secret", "token", "encoding_aes_key"}, {}},
        {core::Platform::kSlack, {"bot_token", "signing_secret"}, {}},
        {core::Platform::kFeishu, {"app_id", "app_secret", "verification_token"}, {"encrypt_key"}},
        {core::Platform::kDingtalk, {"app_key", "app_secret"}, {"robot_code"}},
        {core::Platform::kLine, {"channel_secret", "channel_access_token"}, {}},
        {core::Platform::kWhatsapp, {"app_secret", "verify_token", "access_token", "phone_number_id"}, {}},
        {core::Platform::kDiscord, {"application_id", "public_key", "bot_token"}, {}},
        {core::Platform::kWebchat, {}, {"allowed_origins"}},
    };
    return kKeys;
}

bool platform_supported(core::Platform p) {
    return p == core::Platform::kTelegram || p == core::Platform::kWechatOa || p == core::Platform::kWecom;
}

std::string supported_platform_list() { return "supported: telegram, wechat_oa, wecom"; }

std::string default_api_base(core::Platform p) {
    switch (p) {
        case core::Platform::kTelegram: return "https://api.telegram.org";
        case core::Platform::kWechatOa: return "https://api.weixin.qq.com";
        case core::Platform::kWecom: return "https://qyapi.weixin.qq.com";
        case core::Platform::kSlack: return "https://slack.com/api";
        case core::Platform::kFeishu: return "https://open.feishu.cn";
        case core::Platform::kDingtalk: return "https://api.dingtalk.com";
        case core::Platform::kLine: return "https://api.line.me";
        case core::Platform::kWhatsapp: return "https://graph.facebook.com";
        case core::Platform::kDiscord: return "https://discord.com/api";
        case core::Platform::kWebchat: return "";
    }
    return "";
}

bool parse_listen(const std::string& s, std::string& host, std::uint16_t& port) {
    std::string h;
    std::string p;
    if (!s.empty() && s.front() == '[') {
        const auto close = s.find(']');
        if (close == std::string::npos || close + 1 >= s.size() || s[close + 1] != ':') return false;
        h = s.substr(1, close - 1);
        p = s.substr(close + 2);
    } else {
        const auto colon = s.rfind(':');
        if (colon == std::string::npos) return false;
        h = s.substr(0, colon);
        p = s.substr(colon + 1);
    }
    int v = -1;
    auto [ptr, ec] = std::from_chars(p.data(), p.data() + p.size(), v);
    if (ec != std::errc{} || ptr != p.data() + p.size() || v < 0 || v > 65535 || h.empty()) return false;
    host = h;
    port = static_cast<std::uint16_t>(v);
    return true;
}

bool valid_timezone(const std::string& tz) {
    if (tz == "UTC" || tz == "Etc/UTC") return true;
    static const std::regex kOffset("[+-](0\\d|1[0-4]):[0-5]\\d");
    if (std::regex_match(tz, kOffset)) return true;
    static const std::regex kName("[A-Za-z_]+(/[A-Za-z0-9_+-]+){0,2}");
    if (!std::regex_match(tz, kName)) return false;
    const std::filesystem::path zoneinfo{"/usr/share/zoneinfo"};
    std::error_code ec;
    if (!std::filesystem::is_directory(zoneinfo, ec)) return true;  // no tz database to check against
    return std::filesystem::is_regular_file(zoneinfo / tz, ec);
}

std::chrono::milliseconds ms(std::int64_t v) { return std::chrono::milliseconds{v}; }

}  // namespace

std::string_view to_string(Role r) {
    switch (r) {
        case Role::kAdmin: return "admin";
        case Role::kMarketer: return "marketer";
        case Role::kSales: return "sales";
        case Role::kSupport: return "support";
    }
    return "unknown";
}

std::array<unsigned char, 32> sha256(std::string_view data) {
    std::array<unsigned char, 32> out{};
    SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), out.data());
    return out;
}

const std::string& ChannelConfig::credential(const std::string& key) const {
    static const std::string kEmpty;
    auto it = credentials.find(key);
    return it == credentials.end() ? kEmpty : it->second;
}

const ChannelConfig* Config::channel(std::string_view id) const {
    for (const auto& c : channels) {
        if (c.id == id) return &c;
    }
    return nullptr;
}

ConfigLoad parse_config(const std::string& text, const std::filesystem::path& file) {
    ConfigLoad out;
    auto& problems = out.problems;
    Reader r(problems);
    json doc;
    try {
        doc = json::parse(text);
    } catch (const json::parse_error& e) {
        r.problem("", std::string("not valid JSON: ") + e.what());
        return out;
    }
    if (!doc.is_object()) {
        r.problem("", "the config must be a JSON object");
        return out;
    }
    Config c;
    c.file = std::filesystem::absolute(file).lexically_normal();
    c.base_dir = c.file.parent_path();
    r.known_keys(doc, "",
                 {"server", "storage", "timezone", "templates_dir", "admin_tokens", "channels", "logging", "outbox"});

    if (const json* s = r.object(doc, "", "server", false)) {
        r.known_keys(*s, "server",
                     {"listen", "threads", "max_body_bytes", "max_connections", "header_timeout_ms", "body_timeout_ms",
                      "idle_timeout_ms", "shutdown_timeout_ms"});
        if (auto listen = r.string(*s, "server", "listen", false)) {
            if (!parse_listen(*listen, c.server.host, c.server.port)) {
                r.problem("server.listen", "must be HOST:PORT, e.g. 127.0.0.1:8080");
            }
        }
        if (auto v = r.integer(*s, "server", "threads", 1, 64)) c.server.threads = static_cast<int>(*v);
        if (auto v = r.integer(*s, "server", "max_body_bytes", 1024, 64LL << 20)) {
            c.server.max_body_bytes = static_cast<std::size_t>(*v);
        }
        if (auto v = r.integer(*s, "server", "max_connections", 1, 1'000'000)) {
            c.server.max_connections = static_cast<int>(*v);
        }
        if (auto v = r.integer(*s, "server", "header_timeout_ms", 10, 600'000)) c.server.header_timeout = ms(*v);
        if (auto v = r.integer(*s, "server", "body_timeout_ms", 10, 600'000)) c.server.body_timeout = ms(*v);
        if (auto v = r.integer(*s, "server", "idle_timeout_ms", 10, 3'600'000)) c.server.idle_timeout = ms(*v);
        if (auto v = r.integer(*s, "server", "shutdown_timeout_ms", 0, 600'000)) c.server.shutdown_timeout = ms(*v);
    }

    if (const json* s = r.object(doc, "", "storage", true)) {
        r.known_keys(*s, "storage", {"url", "pool_size", "max_batch", "busy_timeout_ms"});
        if (auto url = r.string(*s, "storage", "url", true)) {
            c.storage.url = *url;
            auto parsed = adapters::storage::parse_storage_url(*url, c.base_dir);
            if (parsed) {
                c.storage.parsed = *parsed;
            } else {
                r.problem("storage.url", parsed.error().message);
            }
        }
        if (auto v = r.integer(*s, "storage", "pool_size", 1, 256)) c.storage.pool_size = static_cast<int>(*v);
        if (auto v = r.integer(*s, "storage", "max_batch", 1, 10'000)) c.storage.max_batch = static_cast<int>(*v);
        if (auto v = r.integer(*s, "storage", "busy_timeout_ms", 0, 600'000)) {
            c.storage.busy_timeout_ms = static_cast<int>(*v);
        }
    }

    if (auto tz = r.string(doc, "", "timezone", false)) {
        if (!valid_timezone(*tz)) {
            r.problem("timezone", "unknown time zone '" + *tz + "' (use an IANA name such as Asia/Shanghai)");
        } else {
            c.timezone = *tz;
        }
    }

    if (const json* l = r.object(doc, "", "logging", false)) {
        r.known_keys(*l, "logging", {"level", "json"});
        if (auto level = r.string(*l, "logging", "level", false)) {
            static const std::set<std::string> kLevels{"trace", "debug", "info", "warn", "error", "critical", "off"};
            if (!kLevels.contains(*level)) {
                r.problem("logging.level", "must be one of trace, debug, info, warn, error, critical, off");
            } else {
                c.logging.level = *level;
            }
        }
        if (auto json_lines = r.boolean(*l, "logging", "json")) c.logging.json = *json_lines;
    }

    if (const json* o = r.object(doc, "", "outbox", false)) {
        r.known_keys(*o, "outbox",
                     {"max_attempts", "base_backoff_ms", "max_backoff_ms", "request_timeout_ms", "lease_ms", "batch"});
        if (auto v = r.integer(*o, "outbox", "max_attempts", 1, 100)) c.outbox.max_attempts = static_cast<int>(*v);
        if (auto v = r.integer(*o, "outbox", "base_backoff_ms", 1, 3'600'000)) c.outbox.base_backoff = ms(*v);
        if (auto v = r.integer(*o, "outbox", "max_backoff_ms", 1, 86'400'000)) c.outbox.max_backoff = ms(*v);
        if (auto v = r.integer(*o, "outbox", "request_timeout_ms", 100, 600'000)) c.outbox.request_timeout = ms(*v);
        if (auto v = r.integer(*o, "outbox", "batch", 1, 10'000)) c.outbox.batch = static_cast<int>(*v);
        if (auto v = r.integer(*o, "outbox", "lease_ms", 1000, 3'600'000)) c.outbox.lease = ms(*v);
        if (c.outbox.lease < 2 * c.outbox.request_timeout) {
            r.problem("outbox.lease_ms", "must be at least twice outbox.request_timeout_ms (a send must end before "
                                         "its lease does)");
        }
    }

    if (doc.contains("admin_tokens")) {
        const auto& tokens = doc["admin_tokens"];
        if (!tokens.is_array()) {
            r.problem("admin_tokens", "must be an array");
        } else {
            std::set<std::string> names;
            std::set<std::array<unsigned char, 32>> hashes;
            for (std::size_t i = 0; i < tokens.size(); ++i) {
                const std::string p = "admin_tokens[" + std::to_string(i) + "]";
                if (!tokens[i].is_object()) {
                    r.problem(p, "must be an object with name, role, token");
                    continue;
                }
                r.known_keys(tokens[i], p, {"name", "role", "token"});
                AdminToken t;
                auto name = r.string(tokens[i], p, "name", true);
                auto role = r.string(tokens[i], p, "role", true);
                auto token = r.string(tokens[i], p, "token", true);
                bool ok = name && role && token;
                if (name && !names.insert(*name).second) {
                    r.problem(p + ".name", "duplicate token name '" + *name + "'");
                    ok = false;
                }
                if (role) {
                    if (*role == "admin") t.role = Role::kAdmin;
                    else if (*role == "marketer") t.role = Role::kMarketer;
                    else if (*role == "sales") t.role = Role::kSales;
                    else if (*role == "support") t.role = Role::kSupport;
                    else {
                        r.problem(p + ".role", "must be one of admin, marketer, sales, support");
                        ok = false;
                    }
                }
                if (token && token->size() < 16) {
                    r.problem(p + ".token", "must be at least 16 characters");
                    ok = false;
                }
                if (!ok) continue;
                t.name = *name;
                t.sha256 = sha256(*token);
                OPENSSL_cleanse(token->data(), token->size());
                if (!hashes.insert(t.sha256).second) {
                    r.problem(p + ".token", "the same token is configured twice");
                    continue;
                }
                c.admin_tokens.push_back(std::move(t));
            }
        }
    }

    if (doc.contains("channels")) {
        const auto& channels = doc["channels"];
        if (!channels.is_array()) {
            r.problem("channels", "must be an array");
        } else {
            std::set<std::string> ids;
            static const std::regex kId("[A-Za-z0-9][A-Za-z0-9_-]{0,63}");
            for (std::size_t i = 0; i < channels.size(); ++i) {
                const std::string p = "channels[" + std::to_string(i) + "]";
                const auto& ch = channels[i];
                if (!ch.is_object()) {
                    r.problem(p, "must be an object");
                    continue;
                }
                ChannelConfig cc;
                auto id = r.string(ch, p, "id", true);
                if (id) {
                    if (!std::regex_match(*id, kId)) {
                        r.problem(p + ".id", "use 1-64 letters, digits, '-' or '_' (it appears in URLs)");
                    } else if (!ids.insert(*id).second) {
                        r.problem(p + ".id", "duplicate channel id '" + *id + "'");
                    }
                    cc.id = *id;
                }
                auto platform = r.string(ch, p, "platform", true);
                const PlatformKeys* keys = nullptr;
                if (platform) {
                    if (auto pl = core::platform_from_string(*platform); pl && !platform_supported(*pl)) {
                        r.problem(p + ".platform", "platform '" + *platform + "' is not supported by this version (" +
                                                       supported_platform_list() + ")");
                    } else if (pl) {
                        cc.platform = *pl;
                        for (const auto& k : platform_keys()) {
                            if (k.platform == *pl) keys = &k;
                        }
                    } else {
                        r.problem(p + ".platform",
                                  "unknown platform '" + *platform +
                                      "' (telegram, wechat_oa, wecom, slack, feishu, dingtalk, line, whatsapp, discord, "
                                      "webchat)");
                    }
                }
                std::set<std::string> allowed{"id",         "platform",       "api_base",    "default_locale",
                                              "bot_username", "rate_limits", "verify_tls", "replay_window_s"};
                if (keys) {
                    allowed.insert(keys->required.begin(), keys->required.end());
                    allowed.insert(keys->optional.begin(), keys->optional.end());
                    for (const auto& key : keys->required) {
                        if (auto v = r.string(ch, p, key.c_str(), true)) {
                            if (v->empty()) {
                                r.problem(p + "." + key, "must not be empty");
                            }
                            cc.credentials[key] = *v;
                        }
                    }
                    for (const auto& key : keys->optional) {
                        if (key == "allowed_origins") continue;
                        if (auto v = r.string(ch, p, key.c_str(), false)) cc.credentials[key] = *v;
                    }
                    if (cc.platform == core::Platform::kTelegram) {
                        const auto& secret = cc.credential("secret_token");
                        static const std::regex kSecret("[A-Za-z0-9_-]{1,256}");
                        if (!secret.empty() && !std::regex_match(secret, kSecret)) {
                            r.problem(p + ".secret_token",
                                      "Telegram allows 1-256 characters A-Z, a-z, 0-9, '_' and '-'");
                        }
                    }
                    if (cc.platform == core::Platform::kWechatOa || cc.platform == core::Platform::kWecom) {
                        const auto& aes = cc.credential("encoding_aes_key");
                        static const std::regex kAesKey("[A-Za-z0-9+/]{43}");
                        if (!aes.empty() && !std::regex_match(aes, kAesKey)) {
                            r.problem(p + ".encoding_aes_key", "must be 43 characters (Base64 of 32 bytes without '=')");
                        }
                        cc.default_locale = "zh-CN";
                    }
                }
                for (const auto& [k, v] : ch.items()) {
                    if (!allowed.contains(k)) r.problem(p + "." + k, "unknown key");
                }
                cc.api_base = keys ? default_api_base(cc.platform) : "";
                if (auto base = r.string(ch, p, "api_base", false)) {
                    static const std::regex kUrl("https?://[^/\\s]+(/[^\\s]*)?");
                    if (!std::regex_match(*base, kUrl)) {
                        r.problem(p + ".api_base", "must be an http:// or https:// URL");
                    } else {
                        cc.api_base = *base;
                        while (cc.api_base.size() > 8 && cc.api_base.back() == '/') cc.api_base.pop_back();
                    }
                }
                if (auto loc = r.string(ch, p, "default_locale", false)) cc.default_locale = *loc;
                if (auto u = r.string(ch, p, "bot_username", false)) cc.bot_username = *u;
                if (auto v = r.boolean(ch, p, "verify_tls")) cc.verify_tls = *v;
                if (auto v = r.integer(ch, p, "replay_window_s", 1, 86'400 * 7)) cc.replay_window = std::chrono::seconds{*v};
                if (const json* rl = r.object(ch, p, "rate_limits", false)) {
                    const std::string rp = p + ".rate_limits";
                    r.known_keys(*rl, rp, {"per_second", "per_chat_per_second", "per_group_per_minute"});
                    if (auto v = r.number(*rl, rp, "per_second", 0.01, 100'000)) cc.rate_limits.per_second = *v;
                    if (auto v = r.number(*rl, rp, "per_chat_per_second", 0.001, 10'000)) {
                        cc.rate_limits.per_chat_per_second = *v;
                    }
                    if (auto v = r.number(*rl, rp, "per_group_per_minute", 0.01, 100'000)) {
                        cc.rate_limits.per_group_per_minute = *v;
                    }
                }
                c.channels.push_back(std::move(cc));
            }
        }
    }

    std::string templates = "templates";
    if (auto t = r.string(doc, "", "templates_dir", false)) templates = *t;
    c.templates_dir = (std::filesystem::path(templates).is_absolute() ? std::filesystem::path(templates)
                                                                       : c.base_dir / templates)
                          .lexically_normal();
    if (doc.contains("templates_dir") || std::filesystem::exists(c.templates_dir)) {
        std::vector<core::TemplateProblem> tproblems;
        load_template_bundle(c.templates_dir, tproblems);
        for (auto& tp : tproblems) problems.push_back({std::move(tp.path), std::move(tp.message)});
    }

    if (problems.empty()) out.config = std::move(c);
    return out;
}

ConfigLoad load_config(const std::filesystem::path& file) {
    std::ifstream in(file, std::ios::binary);
    if (!in) {
        ConfigLoad out;
        out.problems.push_back({file.string(), "cannot read the config file"});
        return out;
    }
    std::stringstream ss;
    ss << in.rdbuf();
    return parse_config(ss.str(), file);
}

}  // namespace leadhatch::bot
