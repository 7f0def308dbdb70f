#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

namespace leadhatch::core {

// The demographic and contact fields of a lead: what scoring and segments read.
struct LeadFields {
    std::string phone;
    std::string email;
    std::string company;
    std::string title;
    std::string region;
    std::string industry;
    std::optional<std::int64_t> company_size;
    std::map<std::string, std::string> custom;  // custom_fields (string values)

    // The value of a field by name ("company_size" as decimal text; "custom.x" for custom fields);
    // nullopt when the field is unknown or unset.
    std::optional<std::string> get(const std::string& name) const;
};

}  // namespace leadhatch::core
