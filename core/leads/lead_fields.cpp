#include "core/leads/lead_fields.hpp"

#include <string_view>

namespace leadhatch::core {
namespace {

constexpr std::string_view kCustomPrefix = "custom.";

std::optional<std::string> non_empty(const std::string& s) {
    if (s.empty()) return std::nullopt;
    return s;
}

}  // namespace

std::optional<std::string> LeadFields::get(const std::string& name) const {
    if (name == "phone") return non_empty(phone);
    if (name == "email") return non_empty(email);
    if (name == "company") return non_empty(company);
    if (name == "title") return non_empty(title);
    if (name == "region") return non_empty(region);
    if (name == "industry") return non_empty(industry);
    if (name == "company_size") {
        if (!company_size) return std::nullopt;
        return std::to_string(*company_size);
    }
    if (name.size() > kCustomPrefix.size() && name.starts_with(kCustomPrefix)) {
        auto it = custom.find(name.substr(kCustomPrefix.size()));
        if (it == custom.end()) return std::nullopt;
        return non_empty(it->second);
    }
    return std::nullopt;
}

}  // namespace leadhatch::core
