#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/types.hpp"

namespace leadhatch::core {

// A lead's own referral code: 8 characters of Crockford base32, derived from its id by a
// bijection, so no lookup table or uniqueness retry is needed and codes do not look sequential.
// Codes are lower-case and fit Telegram's deep-link payload alphabet ("ref_<code>").
std::string referral_code(LeadId id);
std::optional<LeadId> parse_referral_code(std::string_view code);

}  // namespace leadhatch::core
