#include "core/messaging/outbound.hpp"

#include <nlohmann/json.hpp>

namespace leadhatch::core {

using nlohmann::json;

std::string outbound_to_json(const OutboundMessage& m) {
    json j{{"kind", to_string(m.kind)}, {"channel_id", m.channel_id}, {"chat_id", m.chat_id}};
    if (!m.text.empty()) j["text"] = m.text;
    if (!m.parse_mode.empty()) j["parse_mode"] = m.parse_mode;
    if (!m.reply_token.empty()) j["reply_token"] = m.reply_token;
    if (m.lead_id) j["lead_id"] = m.lead_id.value;
    if (m.marketing) j["marketing"] = true;
    if (m.is_group) j["is_group"] = true;
    if (m.passive) j["passive"] = true;
    if (!m.buttons.empty()) {
        json rows = json::array();
        for (const auto& row : m.buttons) {
            json r = json::array();
            for (const auto& b : row) {
                json bj{{"text", b.text}};
                if (!b.data.empty()) bj["data"] = b.data;
                if (!b.url.empty()) bj["url"] = b.url;
                r.push_back(std::move(bj));
            }
            rows.push_back(std::move(r));
        }
        j["buttons"] = std::move(rows);
    }
    return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::optional<OutboundMessage> outbound_from_json(std::string_view body) {
    json j = json::parse(body, nullptr, false);
    if (j.is_discarded() || !j.is_object()) return std::nullopt;
    auto str = [&](const char* k) -> std::string {
        auto it = j.find(k);
        return it != j.end() && it->is_string() ? it->get<std::string>() : std::string{};
    };
    OutboundMessage m;
    const std::string kind = str("kind");
    if (kind == "text") m.kind = OutboundKind::kText;
    else if (kind == "callback_answer") m.kind = OutboundKind::kCallbackAnswer;
    else return std::nullopt;
    m.channel_id = str("channel_id");
    m.chat_id = str("chat_id");
    m.text = str("text");
    m.parse_mode = str("parse_mode");
    m.reply_token = str("reply_token");
    if (auto it = j.find("lead_id"); it != j.end() && it->is_number_integer()) m.lead_id = LeadId{it->get<std::int64_t>()};
    m.marketing = j.value("marketing", false);
    m.is_group = j.value("is_group", false);
    m.passive = j.value("passive", false);
    if (auto it = j.find("buttons"); it != j.end() && it->is_array()) {
        for (const auto& row : *it) {
            if (!row.is_array()) return std::nullopt;
            auto& r = m.buttons.emplace_back();
            for (const auto& b : row) {
                if (!b.is_object()) return std::nullopt;
                r.push_back(Button{b.value("text", std::string{}), b.value("data", std::string{}),
                                   b.value("url", std::string{})});
            }
        }
    }
    return m;
}

std::vector<std::string> numbered_options(const std::vector<std::vector<Button>>& buttons) {
    std::vector<std::string> out;
    for (const auto& row : buttons) {
        for (const auto& b : row) {
            if (b.url.empty()) out.push_back(b.data);
        }
    }
    return out;
}

std::string render_numbered(std::string_view text, const std::vector<std::vector<Button>>& buttons) {
    std::string out(text);
    std::string options;
    std::string links;
    int n = 0;
    for (const auto& row : buttons) {
        for (const auto& b : row) {
            if (b.url.empty()) {
                options += '\n';
                options += std::to_string(++n);
                options += ". ";
                options += b.text;
            } else {
                links += '\n';
                links += b.text;
                links += ": ";
                links += b.url;
            }
        }
    }
    const std::string list = options + links;
    if (list.empty()) return out;
    if (out.empty()) return list.substr(1);
    out += '\n';
    out += list;  // starts with '\n': one blank line between the text and the options
    return out;
}

std::string encode_menu(const std::vector<std::string>& options) {
    if (options.empty()) return {};
    json j = json::array();
    for (const auto& o : options) j.push_back(o);
    return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::vector<std::string> decode_menu(std::string_view stored) {
    std::vector<std::string> out;
    if (stored.empty()) return out;
    json j = json::parse(stored, nullptr, false);
    if (!j.is_array()) return out;
    for (const auto& o : j) {
        if (!o.is_string()) return {};
        out.push_back(o.get<std::string>());
    }
    return out;
}

}  // namespace leadhatch::core
