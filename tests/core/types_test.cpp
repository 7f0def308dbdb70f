// ISO 8601 timestamps (format_iso8601 / parse_iso8601) and platform names.
#include "core/types.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <ostream>
#include <string>

namespace leadhatch::core {
namespace {

using namespace std::chrono;

Timestamp utc(int y, unsigned mo, unsigned d, int h = 0, int mi = 0, int s = 0, int ms = 0) {
    return Timestamp{sys_days{year{y} / month{mo} / day{d}}.time_since_epoch() + hours{h} + minutes{mi} + seconds{s} +
                     milliseconds{ms}};
}

TEST(FormatIso8601, WritesUtcWithMilliseconds_ForKnownInstants) {
    EXPECT_EQ(format_iso8601(from_epoch_ms(0)), "1970-01-01T00:00:00.000Z");
    EXPECT_EQ(format_iso8601(from_epoch_ms(1'700'000'000'123)), "2023-11-14T22:13:20.123Z");
    EXPECT_EQ(format_iso8601(utc(2026, 11, 23, 13, 9, 37, 123)), "2026-11-23T13:09:37.123Z");
    EXPECT_EQ(format_iso8601(utc(2024, 2, 29, 23, 59, 59, 999)), "2024-02-29T23:59:59.999Z");
    EXPECT_EQ(format_iso8601(from_epoch_ms(-1)), "1969-12-31T23:59:59.999Z");
}

TEST(Iso8601, RoundTrips_ForManyInstants) {
    // Every ~37 hours plus odd milliseconds from 1969 to 2100.
    const std::int64_t step = 37LL * 3'600'000 + 7'919;
    for (std::int64_t ms = -10LL * 86'400'000; ms < 4'102'444'800'000; ms += step) {
        const auto t = from_epoch_ms(ms);
        const auto text = format_iso8601(t);
        const auto back = parse_iso8601(text);
        ASSERT_TRUE(back.has_value()) << text;
        ASSERT_EQ(*back, t) << text;
    }
}

struct ParseCase {
    const char* name;
    const char* text;
    Timestamp expected;
};

void PrintTo(const ParseCase& c, std::ostream* os) { *os << c.name; }

class ParseIso8601Valid : public ::testing::TestWithParam<ParseCase> {};

TEST_P(ParseIso8601Valid, ParsesToUtcInstant_WhenWellFormed) {
    const auto& c = GetParam();
    const auto t = parse_iso8601(c.text);
    ASSERT_TRUE(t.has_value()) << c.text;
    EXPECT_EQ(format_iso8601(*t), format_iso8601(c.expected)) << c.text;
}

INSTANTIATE_TEST_SUITE_P(
    Cases, ParseIso8601Valid,
    ::testing::Values(ParseCase{"Zulu", "2026-11-23T13:09:37.123Z", utc(2026, 11, 23, 13, 9, 37, 123)},
                      ParseCase{"NoFraction", "2026-11-23T13:09:37Z", utc(2026, 11, 23, 13, 9, 37)},
                      ParseCase{"PlusEight", "2026-11-23T13:09:37.123+08:00", utc(2026, 11, 23, 5, 9, 37, 123)},
                      ParseCase{"MinusHalfHour", "2026-11-23T13:09:37-05:30", utc(2026, 11, 23, 18, 39, 37)},
                      ParseCase{"OffsetCrossesDay", "2026-01-01T02:00:00+08:00", utc(2025, 12, 31, 18)},
                      ParseCase{"OffsetCrossesYear", "2025-12-31T20:00:00-05:00", utc(2026, 1, 1, 1)},
                      ParseCase{"DateOnly", "2026-02-28", utc(2026, 2, 28)},
                      ParseCase{"LeapDay", "2024-02-29", utc(2024, 2, 29)},
                      ParseCase{"LeapDay2000", "2000-02-29T12:00:00Z", utc(2000, 2, 29, 12)},
                      ParseCase{"SpaceSeparator", "2026-11-23 13:09:37Z", utc(2026, 11, 23, 13, 9, 37)},
                      ParseCase{"OneFractionDigit", "2026-11-23T13:09:37.5Z", utc(2026, 11, 23, 13, 9, 37, 500)},
                      ParseCase{"TwoFractionDigits", "2026-11-23T13:09:37.05Z", utc(2026, 11, 23, 13, 9, 37, 50)},
                      ParseCase{"MicrosecondsTruncated", "2026-11-23T13:09:37.123987Z",
                                utc(2026, 11, 23, 13, 9, 37, 123)},
                      ParseCase{"EndOfDay", "2026-12-31T23:59:59.999Z", utc(2026, 12, 31, 23, 59, 59, 999)}),
    [](const ::testing::TestParamInfo<ParseCase>& tpi) { return std::string(tpi.param.name); });

struct InvalidCase {
    const char* name;
    const char* text;
};

void PrintTo(const InvalidCase& c, std::ostream* os) { *os << c.name; }

class ParseIso8601Invalid : public ::testing::TestWithParam<InvalidCase> {};

TEST_P(ParseIso8601Invalid, Rejects_WhenMalformedOrImpossible) {
    const auto& c = GetParam();
    const auto t = parse_iso8601(c.text);
    EXPECT_FALSE(t.has_value()) << c.text << " parsed as " << (t ? format_iso8601(*t) : "");
}

INSTANTIATE_TEST_SUITE_P(
    Cases, ParseIso8601Invalid,
    ::testing::Values(
        InvalidCase{"Empty", ""}, InvalidCase{"Garbage", "not a date"}, InvalidCase{"Letters", "abcd-ef-gh"},
        InvalidCase{"Slashes", "2026/01/01"}, InvalidCase{"ShortYear", "26-01-01"}, InvalidCase{"Feb30", "2026-02-30"},
        InvalidCase{"Feb29NonLeap", "2025-02-29"}, InvalidCase{"Feb29Century", "1900-02-29"},
        InvalidCase{"Apr31", "2026-04-31T00:00:00Z"}, InvalidCase{"Month13", "2026-13-01"},
        InvalidCase{"Month0", "2026-00-10"}, InvalidCase{"Day0", "2026-01-00"},
        InvalidCase{"Hour24", "2026-01-01T24:00:00Z"}, InvalidCase{"Minute60", "2026-01-01T12:60:00Z"},
        InvalidCase{"Second61", "2026-01-01T12:00:61Z"}, InvalidCase{"NoSeconds", "2026-01-01T12:00Z"},
        InvalidCase{"TrailingT", "2026-01-01T"}, InvalidCase{"EmptyFraction", "2026-01-01T12:00:00.Z"},
        InvalidCase{"OffsetWithoutColon", "2026-01-01T12:00:00+0800"},
        InvalidCase{"OffsetTooLong", "2026-01-01T12:00:00+08:00:00"},
        InvalidCase{"OffsetHourOnly", "2026-01-01T12:00:00+08"},
        InvalidCase{"TrailingAfterZ", "2026-01-01T12:00:00Zjunk"},
        InvalidCase{"LowercaseZAndJunk", "2026-01-01T12:00:00z"}, InvalidCase{"TrailingAfterDate", "2026-01-01X"},
        InvalidCase{"WrongSeparator", "2026-01-01_12:00:00Z"}, InvalidCase{"ColonsMissing", "2026-01-01T12-00-00Z"}),
    [](const ::testing::TestParamInfo<InvalidCase>& tpi) { return std::string(tpi.param.name); });

// Leap seconds cannot be represented (sys_time has none): 23:59:60 must be refused rather than
// silently becoming the next minute.
TEST(ParseIso8601, RejectsSecond60_WhenLeapSecondGiven) {
    EXPECT_FALSE(parse_iso8601("2016-12-31T23:59:60Z").has_value());
    EXPECT_FALSE(parse_iso8601("2026-01-01T12:30:60Z").has_value());
}

// Signed or out-of-range numbers in the time and offset fields are garbage too.
TEST(ParseIso8601, RejectsSignedFieldsAndOutOfRangeOffsets_WhenGarbage) {
    for (const char* text : {"2026-01-01T-1:00:00Z", "2026-01-01T12:-5:00Z", "2026-01-01T12:00:-9Z",
                             "2026-01-01T12:00:00+99:99", "2026-01-01T12:00:00+-1:00", "2026-01-01T12:00:00+08:75"}) {
        const auto t = parse_iso8601(text);
        EXPECT_FALSE(t.has_value()) << text << " parsed as " << (t ? format_iso8601(*t) : "");
    }
}

TEST(Platform, RoundTripsName_ForEveryPlatform) {
    for (auto p : {Platform::kTelegram, Platform::kWechatOa, Platform::kWecom, Platform::kSlack, Platform::kFeishu,
                   Platform::kDingtalk, Platform::kLine, Platform::kWhatsapp, Platform::kDiscord, Platform::kWebchat}) {
        const auto name = to_string(p);
        EXPECT_NE(name, "unknown");
        EXPECT_EQ(platform_from_string(name), std::optional<Platform>(p)) << name;
    }
    EXPECT_EQ(to_string(Platform::kWechatOa), "wechat_oa");
    EXPECT_FALSE(platform_from_string("Telegram").has_value());
    EXPECT_FALSE(platform_from_string("").has_value());
}

}  // namespace
}  // namespace leadhatch::core
