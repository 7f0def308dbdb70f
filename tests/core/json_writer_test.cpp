// JsonWriter and truncate_utf8: the hot-path JSON builder. Every output is parsed back with
// nlohmann to prove it is valid JSON and carries the intended text.
#include "core/util/json_writer.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

namespace leadhatch::core {
namespace {

using nlohmann::json;
using namespace std::string_literals;

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

std::string escaped(std::string_view s) {
    std::string out;
    JsonWriter::append_escaped(out, s);
    return out;
}

// The string a JSON text decodes to (fails the test when it is not a JSON string).
std::string decode(const std::string& json_text) {
    const auto j = json::parse(json_text, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << "not valid JSON: " << json_text;
    if (j.is_discarded() || !j.is_string()) return "<invalid>";
    return j.get<std::string>();
}

// Whether s is well-formed UTF-8 (an independent check: RFC 3629 table 3-7).
bool valid_utf8(std::string_view s) {
    for (std::size_t i = 0; i < s.size();) {
        const auto c = static_cast<unsigned char>(s[i]);
        std::size_t n = 0;
        unsigned char lo = 0x80, hi = 0xBF;
        if (c < 0x80) {
            ++i;
            continue;
        } else if (c >= 0xC2 && c <= 0xDF) {
            n = 2;
        } else if (c >= 0xE0 && c <= 0xEF) {
            n = 3;
            if (c == 0xE0) lo = 0xA0;
            if (c == 0xED) hi = 0x9F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            n = 4;
            if (c == 0xF0) lo = 0x90;
            if (c == 0xF4) hi = 0x8F;
        } else {
            return false;
        }
        if (i + n > s.size()) return false;
        for (std::size_t k = 1; k < n; ++k) {
            const auto b = static_cast<unsigned char>(s[i + k]);
            if (k == 1 ? (b < lo || b > hi) : (b < 0x80 || b > 0xBF)) return false;
        }
        i += n;
    }
    return true;
}

// ---- escaping -------------------------------------------------------------------------------

TEST(JsonWriterEscape, EscapesQuoteAndBackslash_WhenPresent) {
    EXPECT_EQ(escaped(R"(say "hi" \ bye)"), R"("say \"hi\" \\ bye")");
    EXPECT_EQ(decode(escaped(R"(say "hi" \ bye)")), R"(say "hi" \ bye)");
    EXPECT_EQ(escaped(""), R"("")");
}

TEST(JsonWriterEscape, EscapesControlCharactersAsU00XX_WhenNoShortForm) {
    EXPECT_EQ(escaped("a\nb\rc\td"), R"("a\nb\rc\td")");
    EXPECT_EQ(escaped("\x01"), R"("\u0001")");
    EXPECT_EQ(escaped("\x1f"), R"("\u001f")");
    EXPECT_EQ(escaped("\b\f"), R"("\u0008\u000c")");
    EXPECT_EQ(escaped("x\0y"s), R"("x\u0000y")");
    // Every byte below 0x20 round-trips through a JSON parser.
    std::string all;
    for (int c = 0; c < 0x20; ++c) all += static_cast<char>(c);
    all += "\x7f";
    EXPECT_EQ(decode(escaped(all)), all);
}

TEST(JsonWriterEscape, KeepsValidUtf8Verbatim_WhenMultiByte) {
    for (std::string_view s : {"héllo", "价格多少钱", "😀 emoji", "\xF4\x8F\xBF\xBF" /* U+10FFFF */,
                               "\xEF\xBF\xBD" /* U+FFFD itself */, "\xE2\x80\xA8" /* U+2028 */}) {
        EXPECT_EQ(escaped(s), "\"" + std::string(s) + "\"");
        EXPECT_EQ(decode(escaped(s)), s);
    }
}

struct InvalidUtf8Case {
    const char* name;
    std::string input;
    std::string expected;  // after escaping, without the quotes
};

void PrintTo(const InvalidUtf8Case& c, std::ostream* os) { *os << c.name; }

class JsonWriterInvalidUtf8 : public ::testing::TestWithParam<InvalidUtf8Case> {};

TEST_P(JsonWriterInvalidUtf8, ReplacesEachBadByteWithFffd_WhenSequenceInvalid) {
    const auto& c = GetParam();
    const auto out = escaped(c.input);
    EXPECT_EQ(out, "\"" + c.expected + "\"");
    EXPECT_TRUE(valid_utf8(out));
    EXPECT_EQ(decode(out), c.expected);
}

const std::string kR(kReplacement);

INSTANTIATE_TEST_SUITE_P(
    Cases, JsonWriterInvalidUtf8,
    ::testing::Values(InvalidUtf8Case{"LoneContinuation", "a\x80z", "a" + kR + "z"},
                      InvalidUtf8Case{"OverlongTwoByte", "\xC0\xAF", kR + kR},
                      InvalidUtf8Case{"OverlongC1", "\xC1\xBF", kR + kR},
                      InvalidUtf8Case{"TruncatedAtEnd", "ok\xE2\x82", "ok" + kR + kR},
                      InvalidUtf8Case{"TruncatedBeforeAscii", "\xE4\xBBx", kR + kR + "x"},
                      InvalidUtf8Case{"Surrogate", "\xED\xA0\x80", kR + kR + kR},
                      InvalidUtf8Case{"OverlongThreeByte", "\xE0\x80\x80", kR + kR + kR},
                      InvalidUtf8Case{"OverlongFourByte", "\xF0\x80\x80\x80", kR + kR + kR + kR},
                      InvalidUtf8Case{"AboveU10FFFF", "\xF4\x90\x80\x80", kR + kR + kR + kR},
                      InvalidUtf8Case{"F5", "\xF5\x80", kR + kR}, InvalidUtf8Case{"FF", "\xFF", kR},
                      InvalidUtf8Case{"Latin1", "caf\xE9!", "caf" + kR + "!"},
                      InvalidUtf8Case{"ValidAfterInvalid", "\xFF\xE4\xBB\xB7", kR + "\xE4\xBB\xB7"}),
    [](const ::testing::TestParamInfo<InvalidUtf8Case>& tpi) { return std::string(tpi.param.name); });

// ---- fields -----------------------------------------------------------------------------------

TEST(JsonWriter, WritesEmptyObject_WhenNoFields) { EXPECT_EQ(JsonWriter().finish(), "{}"); }

TEST(JsonWriter, WritesTypedFieldsInOrder_WhenChained) {
    const auto text = JsonWriter()
                          .field("s", "text")
                          .field("n", std::int64_t{-42})
                          .field("big", std::numeric_limits<std::int64_t>::max())
                          .field("small", std::numeric_limits<std::int64_t>::min())
                          .field("t", true)
                          .field("f", false)
                          .field("sv", std::string_view("view"))
                          .finish();
    EXPECT_EQ(text, R"({"s":"text","n":-42,"big":9223372036854775807,"small":-9223372036854775808,"t":true,"f":false,)"
                    R"("sv":"view"})");
    const auto j = json::parse(text);
    EXPECT_EQ(j.at("big").get<std::int64_t>(), std::numeric_limits<std::int64_t>::max());
    EXPECT_EQ(j.at("small").get<std::int64_t>(), std::numeric_limits<std::int64_t>::min());
    EXPECT_TRUE(j.at("t").get<bool>());
}

TEST(JsonWriter, EscapesKeys_LikeValues) {
    const auto text = JsonWriter().field("we\"ird\nkey\x01", "v").finish();
    const auto j = json::parse(text);
    EXPECT_EQ(j.at("we\"ird\nkey\x01").get<std::string>(), "v");
}

TEST(JsonWriter, OmitsField_WhenFieldIfValueEmpty) {
    EXPECT_EQ(JsonWriter().field_if("a", "").finish(), "{}");
    EXPECT_EQ(JsonWriter().field_if("a", "").field("b", "x").field_if("c", "").finish(), R"({"b":"x"})");
    EXPECT_EQ(JsonWriter().field("b", "x").field_if("a", "y").finish(), R"({"b":"x","a":"y"})");
}

TEST(JsonWriter, EmbedsRawJson_WhenRawField) {
    const auto inner = JsonWriter().field("id", "-100").field("type", "group").finish();
    const auto text = JsonWriter()
                          .field("text", "hi")
                          .raw_field("chat", inner)
                          .raw_field("list", R"(["a","b"])")
                          .raw_field("n", "1.5")
                          .finish();
    EXPECT_EQ(text, R"({"text":"hi","chat":{"id":"-100","type":"group"},"list":["a","b"],"n":1.5})");
    const auto j = json::parse(text);
    EXPECT_EQ(j.at("chat").at("type").get<std::string>(), "group");
    EXPECT_EQ(j.at("list").size(), 2u);
}

TEST(JsonWriter, ProducesValidJson_WhenValuesAreHostileBytes) {
    // Every single byte value and a few nasty combinations, each in a field: the output always
    // parses and invalid bytes became U+FFFD.
    JsonWriter w;
    std::vector<std::string> values;
    for (int b = 0; b < 256; ++b) values.push_back(std::string(1, static_cast<char>(b)));
    values.push_back("\"\\\"\\");
    values.push_back("</script>\u2028\xF0\x9F");
    values.push_back("\xC3");
    for (std::size_t i = 0; i < values.size(); ++i) w.field("k" + std::to_string(i), values[i]);
    const auto text = w.finish();
    EXPECT_TRUE(valid_utf8(text));
    const auto j = json::parse(text, nullptr, false);
    ASSERT_FALSE(j.is_discarded());
    ASSERT_EQ(j.size(), values.size());
    for (int b = 0; b < 0x80; ++b) {
        EXPECT_EQ(j.at("k" + std::to_string(b)).get<std::string>(), std::string(1, static_cast<char>(b))) << b;
    }
    for (int b = 0x80; b < 0x100; ++b) EXPECT_EQ(j.at("k" + std::to_string(b)).get<std::string>(), kR) << b;
}

// ---- truncate_utf8 ---------------------------------------------------------------------------

TEST(TruncateUtf8, ReturnsInputUnchanged_WhenItFits) {
    EXPECT_EQ(truncate_utf8("abc", 3), "abc");
    EXPECT_EQ(truncate_utf8("价格", 6), "价格");
    EXPECT_EQ(truncate_utf8("", 0), "");
    EXPECT_EQ(truncate_utf8("abc", 100), "abc");
}

TEST(TruncateUtf8, CutsBeforeTheSequence_WhenLimitFallsInsideIt) {
    EXPECT_EQ(truncate_utf8("价格", 5), "价");
    EXPECT_EQ(truncate_utf8("价格", 4), "价");
    EXPECT_EQ(truncate_utf8("价格", 3), "价");
    EXPECT_EQ(truncate_utf8("价格", 2), "");
    EXPECT_EQ(truncate_utf8("a😀", 4), "a");
    EXPECT_EQ(truncate_utf8("a😀b", 5), "a😀");
    EXPECT_EQ(truncate_utf8("abc", 0), "");
}

TEST(TruncateUtf8, NeverSplitsASequence_ForEveryLimit) {
    const std::string s = "aé价😀b\xF4\x8F\xBF\xBFz價格ü";
    ASSERT_TRUE(valid_utf8(s));
    for (std::size_t max = 0; max <= s.size() + 1; ++max) {
        const auto t = truncate_utf8(s, max);
        EXPECT_LE(t.size(), max);
        EXPECT_EQ(s.compare(0, t.size(), t), 0) << "a prefix, max=" << max;
        EXPECT_TRUE(valid_utf8(t)) << "max=" << max;
        // As long as possible: the next whole character would not have fitted.
        if (t.size() < s.size()) {
            std::size_t next = t.size() + 1;
            while (next < s.size() && (static_cast<unsigned char>(s[next]) & 0xC0) == 0x80) ++next;
            EXPECT_GT(next, max) << "max=" << max;
        }
    }
}

}  // namespace
}  // namespace leadhatch::core
