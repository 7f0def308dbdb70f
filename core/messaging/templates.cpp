#include "core/messaging/templates.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>

namespace leadhatch::core {
namespace {

using nlohmann::json;

std::string lower(std::string_view s) {
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return out;
}

bool check_placeholders(std::string_view text, std::string& why) {
    std::size_t pos = 0;
    while ((pos = text.find("{{", pos)) != std::string_view::npos) {
        const auto end = text.find("}}", pos + 2);
        if (end == std::string_view::npos) {
            why = "unclosed {{ placeholder";
            return false;
        }
        const auto name = text.substr(pos + 2, end - pos - 2);
        if (name.empty() || !std::all_of(name.begin(), name.end(), [](unsigned char c) {
                return std::isalnum(c) || c == '_' || c == '.';
            })) {
            why = "placeholder names use letters, digits, '_' and '.'";
            return false;
        }
        pos = end + 2;
    }
    return true;
}

}  // namespace

std::string html_escape(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (char c : s) {
        switch (c) {
            case '&': out += "&amp;"; break;
            case '<': out += "&lt;"; break;
            case '>': out += "&gt;"; break;
            case '"': out += "&quot;"; break;
            default: out += c;
        }
    }
    return out;
}

std::string render_text(std::string_view text, const TemplateVars& vars, bool escape) {
    std::string out;
    out.reserve(text.size() + 32);
    std::size_t pos = 0;
    while (pos < text.size()) {
        const auto open = text.find("{{", pos);
        if (open == std::string_view::npos) {
            out.append(text.substr(pos));
            break;
        }
        const auto close = text.find("}}", open + 2);
        if (close == std::string_view::npos) {
            out.append(text.substr(pos));
            break;
        }
        out.append(text.substr(pos, open - pos));
        const auto name = text.substr(open + 2, close - open - 2);
        for (const auto& [k, v] : vars) {
            if (k == name) {
                out += escape ? html_escape(v) : v;
                break;
            }
        }
        pos = close + 2;
    }
    return out;
}

void TemplateCatalog::add_locale(const std::string& locale, std::string_view json_text, const std::string& source,
                                 std::vector<TemplateProblem>& problems) {
    auto problem = [&](const std::string& path, const std::string& msg) {
        problems.push_back({source + (path.empty() ? "" : ": " + path), msg});
    };
    json doc = json::parse(json_text, nullptr, false);
    if (doc.is_discarded()) {
        problem("", "not valid JSON");
        return;
    }
    if (!doc.is_object()) {
        problem("", "must be a JSON object of message keys");
        return;
    }
    auto& table = locales_[locale];
    sources_[locale] = source;
    for (const auto& [key, value] : doc.items()) {
        MessageTemplate t;
        std::string why;
        if (value.is_string()) {
            t.text = value.get<std::string>();
        } else if (value.is_object()) {
            bool ok = true;
            for (const auto& [field, v] : value.items()) {
                if (field != "text" && field != "parse_mode" && field != "buttons") {
                    problem(key + "." + field, "unknown key (expected text, parse_mode, buttons)");
                    ok = false;
                }
            }
            if (!value.contains("text") || !value["text"].is_string()) {
                problem(key + ".text", "required, a string");
                continue;
            }
            t.text = value["text"].get<std::string>();
            if (value.contains("parse_mode")) {
                const auto& pm = value["parse_mode"];
                if (!pm.is_string() || (pm.get<std::string>() != "HTML" && !pm.get<std::string>().empty())) {
                    problem(key + ".parse_mode", "must be \"HTML\" or empty");
                    ok = false;
                } else {
                    t.parse_mode = pm.get<std::string>();
                }
            }
            if (value.contains("buttons")) {
                const auto& rows = value["buttons"];
                if (!rows.is_array()) {
                    problem(key + ".buttons", "must be an array of button rows");
                    ok = false;
                } else {
                    for (std::size_t r = 0; r < rows.size(); ++r) {
                        const std::string rpath = key + ".buttons[" + std::to_string(r) + "]";
                        if (!rows[r].is_array() || rows[r].empty()) {
                            problem(rpath, "must be a non-empty array of buttons");
                            ok = false;
                            continue;
                        }
                        std::vector<Button> row;
                        for (std::size_t b = 0; b < rows[r].size(); ++b) {
                            const auto& bj = rows[r][b];
                            const std::string bpath = rpath + "[" + std::to_string(b) + "]";
                            if (!bj.is_object() || !bj.contains("text") || !bj["text"].is_string()) {
                                problem(bpath + ".text", "required, a string");
                                ok = false;
                                continue;
                            }
                            Button btn;
                            btn.text = bj["text"].get<std::string>();
                            if (bj.contains("data") && bj["data"].is_string()) btn.data = bj["data"].get<std::string>();
                            if (bj.contains("url") && bj["url"].is_string()) btn.url = bj["url"].get<std::string>();
                            if (btn.data.empty() == btn.url.empty()) {
                                problem(bpath, "needs exactly one of data or url");
                                ok = false;
                                continue;
                            }
                            if (btn.data.size() > 64) {
                                problem(bpath + ".data", "at most 64 bytes (Telegram's callback_data limit)");
                                ok = false;
                                continue;
                            }
                            row.push_back(std::move(btn));
                        }
                        t.buttons.push_back(std::move(row));
                    }
                }
            }
            if (!ok) continue;
        } else {
            problem(key, "must be a string or an object with text");
            continue;
        }
        if (!check_placeholders(t.text, why)) {
            problem(key + (value.is_object() ? ".text" : ""), why);
            continue;
        }
        if (t.text.empty()) {
            problem(key, "text must not be empty");
            continue;
        }
        table[key] = std::move(t);
    }
}

void TemplateCatalog::validate_required(const std::vector<std::string>& keys,
                                        std::vector<TemplateProblem>& problems) const {
    for (const auto& [locale, table] : locales_) {
        for (const auto& key : keys) {
            if (!table.contains(key)) {
                auto it = sources_.find(locale);
                problems.push_back({(it != sources_.end() ? it->second : locale) + ": " + key,
                                    "required message is missing"});
            }
        }
    }
}

std::string TemplateCatalog::pick_locale(std::string_view user_language, std::string_view fallback) const {
    const std::string want = lower(user_language);
    if (!want.empty()) {
        for (const auto& [locale, table] : locales_) {
            if (lower(locale) == want) return locale;
        }
        const std::string lang = want.substr(0, want.find_first_of("-_"));
        for (const auto& [locale, table] : locales_) {
            const std::string l = lower(locale);
            if (l.substr(0, l.find_first_of("-_")) == lang) return locale;
        }
    }
    if (locales_.contains(fallback)) return std::string(fallback);
    if (locales_.contains("en")) return "en";
    return locales_.empty() ? std::string(fallback) : locales_.begin()->first;
}

const MessageTemplate* TemplateCatalog::find(std::string_view key, std::string_view locale) const {
    auto loc = locales_.find(locale);
    if (loc != locales_.end()) {
        auto it = loc->second.find(key);
        if (it != loc->second.end()) return &it->second;
    }
    return nullptr;
}

const MessageTemplate* TemplateCatalog::lookup(std::string_view key, std::string_view locale) const {
    if (const MessageTemplate* t = find(key, locale)) return t;
    if (const MessageTemplate* t = find(key, "en")) return t;
    for (const auto& [l, table] : locales_) {
        if (const MessageTemplate* t = find(key, l)) return t;
    }
    return nullptr;
}

std::optional<MessageTemplate> TemplateCatalog::render(std::string_view key, std::string_view locale,
                                                       const TemplateVars& vars) const {
    const MessageTemplate* t = lookup(key, locale);
    if (!t) return std::nullopt;
    MessageTemplate out;
    const bool html = t->parse_mode == "HTML";
    out.parse_mode = t->parse_mode;
    out.text = render_text(t->text, vars, html);
    for (const auto& row : t->buttons) {
        auto& r = out.buttons.emplace_back();
        for (const auto& b : row) r.push_back(Button{render_text(b.text, vars, false), render_text(b.data, vars, false),
                                                     render_text(b.url, vars, false)});
    }
    return out;
}

std::vector<std::string> TemplateCatalog::locales() const {
    std::vector<std::string> out;
    for (const auto& [l, t] : locales_) out.push_back(l);
    return out;
}

}  // namespace leadhatch::core
