#pragma once

#include <chrono>
#include <compare>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace leadhatch::core {

// All stored times are UTC wall-clock milliseconds.
using Timestamp = std::chrono::sys_time<std::chrono::milliseconds>;

inline std::int64_t to_epoch_ms(Timestamp t) { return t.time_since_epoch().count(); }
inline Timestamp from_epoch_ms(std::int64_t ms) { return Timestamp{std::chrono::milliseconds{ms}}; }

// RFC 3339 / ISO 8601 UTC with milliseconds, e.g. 2026-11-23T13:09:37.123Z. Parsing also takes a
// date alone, and a time without a zone as UTC.
std::string format_iso8601(Timestamp t);
std::optional<Timestamp> parse_iso8601(std::string_view text);

// A strongly typed 64-bit identifier: LeadId and OutboxId do not mix.
template <class Tag>
struct StrongId {
    std::int64_t value = 0;

    constexpr StrongId() = default;
    constexpr explicit StrongId(std::int64_t v) : value(v) {}
    constexpr explicit operator bool() const { return value != 0; }
    auto operator<=>(const StrongId&) const = default;
};

using LeadId = StrongId<struct LeadIdTag>;
using OutboxId = StrongId<struct OutboxIdTag>;
using EventId = StrongId<struct EventIdTag>;

enum class Platform {
    kTelegram,
    kWechatOa,
    kWecom,
    kSlack,
    kFeishu,
    kDingtalk,
    kLine,
    kWhatsapp,
    kDiscord,
    kWebchat,
};

std::string_view to_string(Platform p);
std::optional<Platform> platform_from_string(std::string_view name);

}  // namespace leadhatch::core

template <class Tag>
struct std::hash<leadhatch::core::StrongId<Tag>> {
    std::size_t operator()(const leadhatch::core::StrongId<Tag>& id) const noexcept {
        return std::hash<std::int64_t>{}(id.value);
    }
};
