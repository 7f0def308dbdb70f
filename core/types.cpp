#include "core/types.hpp"

#include <array>
#include <cstdio>

namespace leadhatch::core {
namespace {

constexpr std::array<std::pair<Platform, std::string_view>, 10> kPlatformNames{{
    {Platform::kTelegram, "telegram"},
    {Platform::kWechatOa, "wechat_oa"},
    {Platform::kWecom, "wecom"},
    {Platform::kSlack, "slack"},
    {Platform::kFeishu, "feishu"},
    {Platform::kDingtalk, "dingtalk"},
    {Platform::kLine, "line"},
    {Platform::kWhatsapp, "whatsapp"},
    {Platform::kDiscord, "discord"},
    {Platform::kWebchat, "webchat"},
}};

// Exactly `len` decimal digits (no sign, no spaces).
bool read_int(std::string_view text, std::size_t pos, std::size_t len, int& out) {
    if (pos + len > text.size()) return false;
    out = 0;
    for (std::size_t i = pos; i < pos + len; ++i) {
        if (text[i] < '0' || text[i] > '9') return false;
        out = out * 10 + (text[i] - '0');
    }
    return true;
}

}  // namespace

std::string_view to_string(Platform p) {
    for (const auto& [platform, name] : kPlatformNames) {
        if (platform == p) return name;
    }
    return "unknown";
}

std::optional<Platform> platform_from_string(std::string_view name) {
    for (const auto& [platform, known] : kPlatformNames) {
        if (known == name) return platform;
    }
    return std::nullopt;
}

std::string format_iso8601(Timestamp t) {
    using namespace std::chrono;
    const auto day = floor<days>(t);
    const year_month_day ymd{day};
    const hh_mm_ss hms{t - day};
    char buf[32];
    std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02d.%03dZ", static_cast<int>(ymd.year()),
                  static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                  static_cast<int>(hms.hours().count()), static_cast<int>(hms.minutes().count()),
                  static_cast<int>(hms.seconds().count()), static_cast<int>(hms.subseconds().count()));
    return buf;
}

std::optional<Timestamp> parse_iso8601(std::string_view text) {
    // Accepts YYYY-MM-DD and YYYY-MM-DDTHH:MM:SS[.fff][Z|+HH:MM|-HH:MM]; no zone means UTC.
    using namespace std::chrono;
    int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0, ms = 0;
    if (text.size() < 10 || text[4] != '-' || text[7] != '-') return std::nullopt;
    if (!read_int(text, 0, 4, y) || !read_int(text, 5, 2, mo) || !read_int(text, 8, 2, d)) return std::nullopt;
    std::size_t pos = 10;
    minutes offset{0};
    if (pos < text.size()) {
        if ((text[pos] != 'T' && text[pos] != ' ') || text.size() < pos + 9) return std::nullopt;
        if (!read_int(text, pos + 1, 2, h) || text[pos + 3] != ':' || !read_int(text, pos + 4, 2, mi) ||
            text[pos + 6] != ':' || !read_int(text, pos + 7, 2, s)) {
            return std::nullopt;
        }
        pos += 9;
        if (pos < text.size() && text[pos] == '.') {
            ++pos;
            int digits = 0;
            while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
                if (digits < 3) ms = ms * 10 + (text[pos] - '0');
                ++digits;
                ++pos;
            }
            if (digits == 0) return std::nullopt;
            for (int i = digits; i < 3; ++i) ms *= 10;
        }
        if (pos < text.size()) {
            if (text[pos] == 'Z' && pos + 1 == text.size()) {
                ++pos;
            } else if ((text[pos] == '+' || text[pos] == '-') && text.size() == pos + 6 && text[pos + 3] == ':') {
                int oh = 0, om = 0;
                if (!read_int(text, pos + 1, 2, oh) || !read_int(text, pos + 4, 2, om) || oh > 23 || om > 59) {
                    return std::nullopt;
                }
                offset = hours{oh} + minutes{om};
                if (text[pos] == '-') offset = -offset;
                pos = text.size();
            } else {
                return std::nullopt;
            }
        }
    }
    const year_month_day ymd{year{y}, month{static_cast<unsigned>(mo)}, day{static_cast<unsigned>(d)}};
    // No leap seconds: sys_time cannot hold 23:59:60, and turning it into the next minute would lie.
    if (!ymd.ok() || h > 23 || mi > 59 || s > 59) return std::nullopt;
    return Timestamp{sys_days{ymd}.time_since_epoch() + hours{h} + minutes{mi} + seconds{s} + milliseconds{ms} -
                     offset};
}

}  // namespace leadhatch::core
