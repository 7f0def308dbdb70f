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

}  // namespace leadhatch::core
