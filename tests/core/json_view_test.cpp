#include "core/util/json_view.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

namespace leadhatch::core {
namespace {

using namespace std::string_literals;
using namespace std::string_view_literals;

// Documents must outlive their refs and their input: tests keep both in a Parsed.
struct Parsed {
    std::string text;
    std::variant<JsonDoc, JsonParseError> result;

    bool ok() const { return std::holds_alternative<JsonDoc>(result); }
    JsonRef root() const { return std::get<JsonDoc>(result).root(); }
    JsonErrc code() const { return std::get<JsonParseError>(result).code; }
    std::size_t offset() const { return std::get<JsonParseError>(result).offset; }
};

// Heap-allocated so the document's views into `text` stay put.
std::unique_ptr<Parsed> parse(std::string text, int max_depth = kDefaultJsonMaxDepth) {
    auto p = std::make_unique<Parsed>(Parsed{std::move(text), JsonParseError{}});
    p->result = JsonDoc::parse(p->text, max_depth);
    return p;
}

// The error code for `text`, or nullopt when it parses.
std::optional<JsonErrc> error_of(std::string text, int max_depth = kDefaultJsonMaxDepth) {
    const auto p = parse(std::move(text), max_depth);
    if (p->ok()) return std::nullopt;
    return p->code();
}

// The decoded string value of the one-element array `[<literal>]`, or nullopt when it fails to parse.
std::optional<std::string> string_of(std::string_view literal) {
    std::string text = "[";
    text.append(literal).append("]");
    const auto p = parse(std::move(text));
    if (!p->ok()) return std::nullopt;
    const JsonRef v = p->root()[0];
    EXPECT_TRUE(v.is_string());
    return std::string(v.string());
}

// Bytes as hex, for failure messages about invalid text.
std::string hex(std::string_view bytes) {
    static constexpr std::string_view kDigits = "0123456789abcdef";
    std::string out;
    for (const char c : bytes) {
        const auto b = static_cast<unsigned char>(c);
        out += kDigits[b >> 4];
        out += kDigits[b & 0xF];
        out += ' ';
    }
    return out;
}

std::filesystem::path source_dir() {
    if (const char* env = std::getenv("LEADHATCH_SOURCE_DIR"); env != nullptr && *env != '\0') return env;
    return LEADHATCH_TEST_SOURCE_DIR;
}

std::vector<std::pair<std::string, std::string>> telegram_fixtures() {
    std::vector<std::pair<std::string, std::string>> out;
    for (const auto& entry : std::filesystem::directory_iterator(source_dir() / "tests" / "fixtures" / "telegram")) {
        if (entry.path().extension() != ".json") continue;
        std::ifstream in(entry.path(), std::ios::binary);
        std::ostringstream ss;
        ss << in.rdbuf();
        out.emplace_back(entry.path().filename().string(), ss.str());
    }
    std::ranges::sort(out);
    return out;
}

// ---- value kinds --------------------------------------------------------------------------------------

TEST(JsonView, ReadsEveryValueKind) {
    const auto p = parse(R"({"n": null, "t": true, "f": false, "i": -12, "d": 2.5, "s": "hi", "a": [1, "x", [], {}],
                            "o": {"k": {"deep": [null]}}, "e": ""})");
    ASSERT_TRUE(p->ok());
    const JsonRef r = p->root();
    EXPECT_EQ(r.kind(), JsonKind::kObject);
    EXPECT_EQ(r.size(), 9U);
    EXPECT_TRUE(r.find("n").is_null());
    EXPECT_TRUE(r.find("t").is_bool());
    EXPECT_TRUE(r.find("t").boolean());
    EXPECT_TRUE(r.find("f").is_bool());
    EXPECT_FALSE(r.find("f").boolean());
    EXPECT_EQ(r.find("i").as_int64(), -12);
    EXPECT_TRUE(r.find("i").is_integer());
    EXPECT_EQ(r.find("i").number_text(), "-12");
    EXPECT_FALSE(r.find("d").is_integer());
    EXPECT_EQ(r.find("d").as_double(), 2.5);
    EXPECT_EQ(r.find("d").as_int64(), std::nullopt);
    EXPECT_EQ(r.find("s").string(), "hi");
    EXPECT_EQ(r.find("s").as_string(), "hi");
    EXPECT_EQ(r.find("e").as_string(), "");  // an empty string is still a string
    const JsonRef a = r.find("a");
    ASSERT_TRUE(a.is_array());
    ASSERT_EQ(a.size(), 4U);
    EXPECT_EQ(a[0].as_int64(), 1);
    EXPECT_EQ(a[1].string(), "x");
    EXPECT_TRUE(a[2].is_array());
    EXPECT_EQ(a[2].size(), 0U);
    EXPECT_TRUE(a[3].is_object());
    EXPECT_EQ(a[3].size(), 0U);
    EXPECT_FALSE(a[4].valid());
    EXPECT_TRUE(r.find("o").find("k").find("deep")[0].is_null());
}

TEST(JsonView, ReadsTopLevelScalars) {
    EXPECT_TRUE(parse("null")->root().is_null());
    EXPECT_TRUE(parse("true")->root().boolean());
    EXPECT_EQ(parse("42")->root().as_int64(), 42);
    EXPECT_EQ(parse(R"("s")")->root().string(), "s");
    EXPECT_EQ(parse("[]")->root().size(), 0U);
}

TEST(JsonView, ReadsWrongKindsAndInvalidRefs_AsEmpty) {
    const auto p = parse(R"({"s": "text", "n": 5, "a": [1]})");
    ASSERT_TRUE(p->ok());
    const JsonRef r = p->root();
    const JsonRef missing = r.find("nope");
    EXPECT_FALSE(missing.valid());
    EXPECT_EQ(missing.kind(), JsonKind::kInvalid);
    EXPECT_FALSE(missing.is_null());
    EXPECT_EQ(missing.string(), "");
    EXPECT_EQ(missing.as_string(), std::nullopt);
    EXPECT_EQ(missing.as_int64(), std::nullopt);
    EXPECT_EQ(missing.size(), 0U);
    EXPECT_FALSE(missing.find("x").valid());
    EXPECT_FALSE(missing[0].valid());
    EXPECT_EQ(missing.elements().begin(), missing.elements().end());
    EXPECT_EQ(missing.members().begin(), missing.members().end());

    EXPECT_EQ(r.find("n").string(), "");
    EXPECT_EQ(r.find("n").as_string(), std::nullopt);
    EXPECT_EQ(r.find("s").as_int64(), std::nullopt);
    EXPECT_EQ(r.find("s").number_text(), "");
    EXPECT_FALSE(r.find("s").boolean());
    EXPECT_FALSE(r.find("a").find("0").valid());  // find on an array
    EXPECT_FALSE(r[0].valid());                   // index on an object
    EXPECT_FALSE(JsonRef().valid());
}

static_assert(std::forward_iterator<JsonRef::ElementIterator>);
static_assert(std::forward_iterator<JsonRef::MemberIterator>);

TEST(JsonView, IteratesElementsAndMembers_InDocumentOrder_SkippingSubtrees) {
    const auto p = parse(R"({"b": [1, [2, [3]], {"x": {"y": 4}}], "a": {"z": 1}, "c": 3})");
    ASSERT_TRUE(p->ok());
    std::vector<std::string> keys;
    for (const auto& [key, value] : p->root().members()) keys.emplace_back(key);
    EXPECT_EQ(keys, (std::vector<std::string>{"b", "a", "c"}));

    std::vector<JsonKind> kinds;
    for (const JsonRef e : p->root().find("b").elements()) kinds.push_back(e.kind());
    EXPECT_EQ(kinds, (std::vector<JsonKind>{JsonKind::kNumber, JsonKind::kArray, JsonKind::kObject}));
    const auto elements = p->root().find("b").elements();
    EXPECT_EQ(std::ranges::distance(elements.begin(), elements.end()), 3);
    const auto members = p->root().members();
    const auto a =
        std::ranges::find_if(members.begin(), members.end(), [](const JsonMember& m) { return m.key == "a"; });
    ASSERT_NE(a, members.end());
    EXPECT_EQ((*a).value.find("z").as_int64(), 1);
    EXPECT_EQ(p->root().find("b")[2].find("x").find("y").as_int64(), 4);
    EXPECT_EQ(p->root().find("c").as_int64(), 3);
}

TEST(JsonView, FindReturnsTheLastOfRepeatedKeys_LikeNlohmann) {
    const auto p = parse(R"({"a": 1, "b": 2, "a": {"x": true}})");
    ASSERT_TRUE(p->ok());
    EXPECT_TRUE(p->root().find("a").is_object());
    EXPECT_EQ(p->root().size(), 3U);  // members, repeats included
    const auto theirs = nlohmann::json::parse(p->text);
    EXPECT_TRUE(theirs["a"].is_object());
}

TEST(JsonView, KeepsUnescapedStringsAsViewsIntoTheInput) {
    const auto p = parse(R"({"plain": "abc", "esc\u0061ped": "a\nb"})");
    ASSERT_TRUE(p->ok());
    const std::string_view plain = p->root().find("plain").string();
    EXPECT_GE(plain.data(), p->text.data());
    EXPECT_LE(plain.data() + plain.size(), p->text.data() + p->text.size());
    const std::string_view escaped = p->root().find("escaped").string();
    EXPECT_EQ(escaped, "a\nb");
    const bool inside_input = escaped.data() >= p->text.data() && escaped.data() < p->text.data() + p->text.size();
    EXPECT_FALSE(inside_input);
}

TEST(JsonView, RefsWorkAfterTheDocumentIsMoved) {
    const std::string text = R"({"k": "\t", "long": "\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9"})";
    auto result = JsonDoc::parse(text);
    ASSERT_TRUE(std::holds_alternative<JsonDoc>(result));
    const JsonDoc moved = std::get<JsonDoc>(std::move(result));
    EXPECT_EQ(moved.root().find("k").string(), "\t");
    EXPECT_EQ(moved.root().find("long").string(), "éééééééééé");
}

// ---- strings ------------------------------------------------------------------------------------------

TEST(JsonView, DecodesEscapes) {
    EXPECT_EQ(string_of(R"("\" \\ \/ \b \f \n \r \t")"), "\" \\ / \b \f \n \r \t");
    EXPECT_EQ(string_of(R"("\u0041\u00e9\u4F60\uffff")"), "Aé你\xEF\xBF\xBF");
    EXPECT_EQ(string_of(R"("\uD83D\uDE80 \ud83d\ude4f")"), "🚀 🙏");
    EXPECT_EQ(string_of(R"("\uDBFF\uDFFF")"), "\xF4\x8F\xBF\xBF");  // U+10FFFF
    EXPECT_EQ(string_of(R"("a\u0000b")"), "a\0b"s);
    EXPECT_EQ(string_of(R"("x\"y" )"), "x\"y");
    EXPECT_EQ(string_of(R"("\\\\")"), "\\\\");
}

TEST(JsonView, RejectsInvalidEscapes) {
    for (const auto* s : {R"(["\x41"])", R"(["\U0041"])", R"(["\u12"])", R"(["\u12G4"])", R"(["\'"])", R"(["\a"])",
                          R"(["\ "])", R"(["\u-123"])"}) {
        EXPECT_EQ(error_of(s), JsonErrc::kInvalidEscape) << s;
    }
    EXPECT_EQ(error_of(R"(["\)"), JsonErrc::kUnexpectedEnd);
    EXPECT_EQ(error_of(R"(["\u00)"), JsonErrc::kInvalidEscape);
}

TEST(JsonView, RejectsUnpairedSurrogates) {
    for (const auto* s : {R"(["\uD800"])", R"(["\uDC00"])", R"(["\uDFFF\uD800"])", R"(["\uD800\u0041"])",
                          R"(["\uD800x"])", R"(["\uDBFF\uDBFF"])", R"(["\uD83D\n"])", R"(["\ud83d \ude80"])"}) {
        EXPECT_EQ(error_of(s), JsonErrc::kInvalidSurrogate) << s;
    }
    EXPECT_EQ(error_of(R"(["\uD800\uZZZZ"])"), JsonErrc::kInvalidEscape);
}

TEST(JsonView, ValidatesUtf8) {
    EXPECT_EQ(string_of("\"\xC3\xA9 \xE4\xBD\xA0 \xF0\x9F\x9A\x80 \x7F\""), "é 你 🚀 \x7F");
    EXPECT_EQ(string_of("\"\xEF\xBF\xBF \xF4\x8F\xBF\xBF \xED\x9F\xBF\""),
              "\xEF\xBF\xBF \xF4\x8F\xBF\xBF \xED\x9F\xBF");
    const std::vector<std::string> invalid{
        "\xFF",                  // never valid
        "\xFE",                  // never valid
        "\x80",                  // lone continuation byte
        "\xBF",                  // lone continuation byte
        "\xC0\x80",              // overlong U+0000
        "\xC1\xBF",              // overlong U+007F
        "\xE0\x80\x80",          // overlong U+0000
        "\xE0\x9F\xBF",          // overlong U+07FF
        "\xF0\x80\x80\x80",      // overlong U+0000
        "\xF0\x8F\xBF\xBF",      // overlong U+FFFF
        "\xED\xA0\x80",          // surrogate U+D800
        "\xED\xBF\xBF",          // surrogate U+DFFF
        "\xF4\x90\x80\x80",      // U+110000
        "\xF5\x80\x80\x80",      // lead byte past U+10FFFF
        "\xF8\x88\x80\x80\x80",  // 5-byte form
        "\xE4\xBD",              // truncated
        "\xC3",                  // truncated
        "\xF0\x9F\x9A",          // truncated
        "\xC3\x41",              // bad continuation
        "\xE4\x41\xA0"           // bad continuation
    };
    for (const auto& s : invalid) {
        EXPECT_EQ(error_of("[\"" + s + "\"]"), JsonErrc::kInvalidUtf8) << hex(s);
        EXPECT_EQ(error_of("{\"" + s + "\": 1}"), JsonErrc::kInvalidUtf8) << "in a key";
        EXPECT_EQ(error_of("[\"\\n" + s + "\"]"), JsonErrc::kInvalidUtf8) << "after an escape";
    }
    EXPECT_EQ(error_of("[\"\xE4\xBD"), JsonErrc::kInvalidUtf8);  // cut off by the end of input
}

TEST(JsonView, RejectsUnescapedControlCharacters) {
    for (char c = 0; c < 0x20; ++c) {
        EXPECT_EQ(error_of("[\"a"s + c + "\"]"), JsonErrc::kControlCharacter) << int(c);
        EXPECT_EQ(error_of("[\"\\t"s + c + "\"]"), JsonErrc::kControlCharacter) << int(c);
    }
    EXPECT_EQ(string_of("\"\x7F\""), "\x7F");  // DEL is not a control character in JSON
}

TEST(JsonView, RejectsUnterminatedStrings) {
    EXPECT_EQ(error_of(R"(["abc)"), JsonErrc::kUnexpectedEnd);
    EXPECT_EQ(error_of(R"(["abc\"])"), JsonErrc::kUnexpectedEnd);
    EXPECT_EQ(error_of(R"({"abc)"), JsonErrc::kUnexpectedEnd);
}

// ---- numbers ------------------------------------------------------------------------------------------

TEST(JsonView, ReadsInt64Strictly) {
    const auto p = parse(R"([9223372036854775807, -9223372036854775808, 9223372036854775808, -9223372036854775809,
                            18446744073709551615, 123456789012345678901234567890, -0, 0, 1.5, 1.0, 1e3, 1E+2, 2e-1,
                            -12.5e-3, 0.0000001])");
    ASSERT_TRUE(p->ok());
    const JsonRef a = p->root();
    EXPECT_EQ(a[0].as_int64(), std::numeric_limits<std::int64_t>::max());
    EXPECT_EQ(a[1].as_int64(), std::numeric_limits<std::int64_t>::min());
    for (std::size_t i : {2, 3, 4, 5}) {
        EXPECT_TRUE(a[i].is_integer()) << i;
        EXPECT_EQ(a[i].as_int64(), std::nullopt) << i;  // overflow
    }
    EXPECT_EQ(a[4].number_text(), "18446744073709551615");
    EXPECT_EQ(a[5].as_double(), 1.2345678901234568e29);
    EXPECT_EQ(a[6].as_int64(), 0);
    EXPECT_EQ(a[7].as_int64(), 0);
    const std::vector<double> floats{1.5, 1.0, 1000.0, 100.0, 0.2, -0.0125, 1e-7};
    for (std::size_t i = 0; i < floats.size(); ++i) {
        EXPECT_FALSE(a[8 + i].is_integer()) << i;
        EXPECT_EQ(a[8 + i].as_int64(), std::nullopt) << i;
        EXPECT_EQ(a[8 + i].as_double(), floats[i]) << i;
    }
}

TEST(JsonView, RejectsMalformedNumbers) {
    for (const auto* s : {"[01]", "[-01]", "[00]", "[1.]", "[.5]", "[+1]", "[1e]", "[1e+]", "[1.e3]", "[-a]", "[1.5.2]",
                          "[0x10]", "[1e3e3]", "[--1]", "[Infinity]", "[NaN]", "[-Infinity]"}) {
        EXPECT_TRUE(error_of(s).has_value()) << s;
    }
    EXPECT_EQ(error_of("-"), JsonErrc::kUnexpectedEnd);
    EXPECT_EQ(error_of("[-]"), JsonErrc::kInvalidNumber);
    EXPECT_EQ(error_of("01"), JsonErrc::kTrailingData);
    EXPECT_EQ(error_of("[1.]"), JsonErrc::kInvalidNumber);
    EXPECT_EQ(error_of("[1e]"), JsonErrc::kInvalidNumber);
}

TEST(JsonView, RejectsNumbersThatOverflowADouble_AcceptsUnderflow) {
    EXPECT_EQ(error_of("[1e400]"), JsonErrc::kNumberOutOfRange);
    EXPECT_EQ(error_of("[-1.8e308]"), JsonErrc::kNumberOutOfRange);
    EXPECT_EQ(error_of("[1" + std::string(400, '0') + "]"), JsonErrc::kNumberOutOfRange);
    EXPECT_EQ(error_of("[0.1e99999999999999999999999]"), JsonErrc::kNumberOutOfRange);
    EXPECT_EQ(error_of("[1.7976931348623158e308]"), std::nullopt);
    const auto tiny = parse("[1e-400, -1e-400, 0.00000e99999, 1" + std::string(300, '0') + "]");
    ASSERT_TRUE(tiny->ok());
    EXPECT_EQ(tiny->root()[0].as_double(), 0.0);
    EXPECT_EQ(tiny->root()[2].as_double(), 0.0);
    EXPECT_EQ(tiny->root()[3].as_double(), 1e300);
}

// ---- structure ----------------------------------------------------------------------------------------

TEST(JsonView, HandlesWhitespace) {
    const auto p = parse(" \t\r\n{ \"a\" \n: [ 1 , 2\t] ,\"b\":{ } }\r\n ");
    ASSERT_TRUE(p->ok());
    EXPECT_EQ(p->root().find("a")[1].as_int64(), 2);
    EXPECT_EQ(error_of("\f{}"), JsonErrc::kUnexpectedChar);  // not JSON whitespace
    EXPECT_EQ(error_of("{}\v"), JsonErrc::kTrailingData);
    EXPECT_EQ(error_of("[1,\xC2\xA0"s + "2]"), JsonErrc::kUnexpectedChar);  // no-break space
}

TEST(JsonView, RejectsEmptyInput) {
    EXPECT_EQ(error_of(""), JsonErrc::kUnexpectedEnd);
    EXPECT_EQ(error_of(" \n\t "), JsonErrc::kUnexpectedEnd);
}

TEST(JsonView, RejectsTrailingGarbage) {
    for (const auto& s : {"{} x"s, "1 2"s, "{}}"s, "[]]"s, "{},"s, "null null"s, "\"a\"\"b\""s, "{}\0"s, "[] {}"s}) {
        EXPECT_EQ(error_of(s), JsonErrc::kTrailingData) << s;
    }
    const auto p = parse("{\"a\": 1}  \x01");
    EXPECT_EQ(p->code(), JsonErrc::kTrailingData);
    EXPECT_EQ(p->offset(), 10U);
}

TEST(JsonView, RejectsLeadingByteOrderMark) {
    EXPECT_EQ(error_of("\xEF\xBB\xBF{}"), JsonErrc::kByteOrderMark);
    EXPECT_EQ(error_of("\xEF\xBB{}"), JsonErrc::kUnexpectedChar);
}

TEST(JsonView, RejectsBrokenStructure) {
    for (const auto* s : {"{", "[", "{\"a\"", "{\"a\":", "{\"a\":1", "[1", "[1,", "{\"a\":1,"}) {
        EXPECT_EQ(error_of(s), JsonErrc::kUnexpectedEnd) << s;
    }
    for (const auto* s : {"{\"a\" 1}", "{\"a\":}", "{1:2}", "[1,]",  "{\"a\":1,}", "[1 2]", "{\"a\":1 \"b\":2}",
                          "]",         "}",        "{]",    "[}",    "{\"a\",1}",  "[,1]",  ",",
                          ":",         "{'a':1}",  "{a:1}", "[1;2]", "{\"a\":1]",  "[1}",   "/*c*/1"}) {
        EXPECT_EQ(error_of(s), JsonErrc::kUnexpectedChar) << s;
    }
    for (const auto* s : {"tru", "nul", "f"}) EXPECT_EQ(error_of(s), JsonErrc::kUnexpectedEnd) << s;
    for (const auto* s : {"True", "nulL", "[truth]", "[nil]", "[fals]"}) EXPECT_TRUE(error_of(s).has_value()) << s;
    EXPECT_EQ(error_of("[falsey]"), JsonErrc::kUnexpectedChar);  // "false" then 'y'
}

TEST(JsonView, ErrorsNeverQuoteTheInput) {
    const auto p = parse(R"({"token": "SECRET-123", "x": "\q"})");
    ASSERT_FALSE(p->ok());
    const auto& err = std::get<JsonParseError>(p->result);
    EXPECT_EQ(err.code, JsonErrc::kInvalidEscape);
    EXPECT_EQ(err.offset, p->text.find("\\q"));
    EXPECT_EQ(err.message(), "invalid escape in string at byte " + std::to_string(err.offset));
    EXPECT_EQ(err.message().find("SECRET"), std::string::npos);
}

// ---- depth --------------------------------------------------------------------------------------------

std::string nested_arrays(std::size_t depth) { return std::string(depth, '[') + std::string(depth, ']'); }

TEST(JsonView, AcceptsDepth64_RejectsDepth65) {
    EXPECT_EQ(error_of(nested_arrays(64)), std::nullopt);
    const auto over = parse(nested_arrays(65));
    ASSERT_FALSE(over->ok());
    EXPECT_EQ(over->code(), JsonErrc::kTooDeep);
    EXPECT_EQ(over->offset(), 64U);  // the 65th '['

    std::string objects;
    for (int i = 0; i < 64; ++i) objects += R"({"a":)";
    EXPECT_EQ(error_of(objects + "1" + std::string(64, '}')), std::nullopt);
    EXPECT_EQ(error_of(objects + "{}" + std::string(64, '}')), JsonErrc::kTooDeep);
    EXPECT_EQ(error_of(objects + "[]" + std::string(64, '}')), JsonErrc::kTooDeep);

    // Siblings do not add up, and closing brackets give the depth back.
    std::string siblings = "[";
    siblings.append(nested_arrays(63)).append(",").append(nested_arrays(63)).append("]");
    EXPECT_EQ(error_of(siblings), std::nullopt);
}

TEST(JsonView, HonoursCustomMaxDepth) {
    EXPECT_EQ(error_of("[[1]]", 2), std::nullopt);
    EXPECT_EQ(error_of("[[[1]]]", 2), JsonErrc::kTooDeep);
    EXPECT_EQ(error_of("1", 0), std::nullopt);
    EXPECT_EQ(error_of("[]", 0), JsonErrc::kTooDeep);
    EXPECT_EQ(error_of(nested_arrays(1000), 1000), std::nullopt);  // no recursion: any limit is safe
}

TEST(JsonView, RejectsHostileNesting_Quickly) {
    const auto start = std::chrono::steady_clock::now();
    const auto arrays = parse(std::string(100000, '['));
    EXPECT_EQ(arrays->code(), JsonErrc::kTooDeep);
    EXPECT_EQ(arrays->offset(), 64U);
    std::string objects;
    for (int i = 0; i < 100000; ++i) objects += R"({"a":)";
    EXPECT_EQ(error_of(objects), JsonErrc::kTooDeep);
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(500));
}

// ---- differential: what we read is what nlohmann::json reads -------------------------------------------

void expect_same(JsonRef ours, const nlohmann::json& theirs, const std::string& path) {
    SCOPED_TRACE(path);
    switch (theirs.type()) {
        case nlohmann::json::value_t::null:
            EXPECT_TRUE(ours.is_null());
            break;
        case nlohmann::json::value_t::boolean:
            ASSERT_TRUE(ours.is_bool());
            EXPECT_EQ(ours.boolean(), theirs.get<bool>());
            break;
        case nlohmann::json::value_t::number_integer:
            ASSERT_TRUE(ours.is_integer());
            EXPECT_EQ(ours.as_int64(), theirs.get<std::int64_t>());
            break;
        case nlohmann::json::value_t::number_unsigned: {
            ASSERT_TRUE(ours.is_integer());
            const auto u = theirs.get<std::uint64_t>();
            if (u <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
                EXPECT_EQ(ours.as_int64(), static_cast<std::int64_t>(u));
            } else {
                EXPECT_EQ(ours.as_int64(), std::nullopt);
                EXPECT_EQ(ours.number_text(), std::to_string(u));
            }
            break;
        }
        case nlohmann::json::value_t::number_float:
            ASSERT_TRUE(ours.is_number());
            EXPECT_EQ(ours.as_int64(), std::nullopt);
            EXPECT_EQ(ours.as_double(), theirs.get<double>());
            break;
        case nlohmann::json::value_t::string:
            ASSERT_TRUE(ours.is_string());
            EXPECT_EQ(ours.string(), theirs.get_ref<const std::string&>());
            break;
        case nlohmann::json::value_t::array: {
            ASSERT_TRUE(ours.is_array());
            ASSERT_EQ(ours.size(), theirs.size());
            std::size_t i = 0;
            for (const JsonRef e : ours.elements()) {
                expect_same(e, theirs[i], path + "[" + std::to_string(i) + "]");
                ++i;
            }
            EXPECT_EQ(i, theirs.size());
            break;
        }
        case nlohmann::json::value_t::object: {
            ASSERT_TRUE(ours.is_object());
            std::set<std::string, std::less<>> keys;
            for (const auto& [key, value] : ours.members()) keys.emplace(key);
            EXPECT_EQ(keys.size(), theirs.size());
            for (const auto& [key, value] : theirs.items()) {
                const JsonRef member = ours.find(key);
                ASSERT_TRUE(member.valid()) << key;
                expect_same(member, value, path + "." + key);
            }
            break;
        }
        default:
            ADD_FAILURE() << "unexpected nlohmann type";
    }
}

void expect_same_as_nlohmann(std::string_view text) {
    const auto theirs = nlohmann::json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
    auto ours = JsonDoc::parse(text);
    ASSERT_EQ(std::holds_alternative<JsonDoc>(ours), !theirs.is_discarded());
    if (!theirs.is_discarded()) expect_same(std::get<JsonDoc>(ours).root(), theirs, "$");
}

TEST(JsonView, ReadsTelegramFixtures_LikeNlohmann) {
    const auto fixtures = telegram_fixtures();
    ASSERT_GE(fixtures.size(), 20U);
    for (const auto& [name, text] : fixtures) {
        SCOPED_TRACE(name);
        expect_same_as_nlohmann(text);
        // The same update as Telegram sends it: compact, non-ASCII as \u escapes, '/' as "\/".
        const auto dom = nlohmann::json::parse(text);
        std::string wire = dom.dump(-1, ' ', /*ensure_ascii=*/true);
        for (std::size_t at = 0; (at = wire.find('/', at)) != std::string::npos; at += 2) wire.insert(at, 1, '\\');
        expect_same_as_nlohmann(wire);
    }
}

TEST(JsonView, ReadsCraftedDocuments_LikeNlohmann) {
    for (const auto& text : {
             R"({"a": 1, "a": 2, "b": [1, 2, {"a": [3, {"c": null}]}], "": "", "\u0000": "\u0000"})"s,
             R"(["\ud83d\ude80\u00e9\n\t\"\\\/x", "\u4F60\u597D", "\uDBFF\uDFFF", "plain", ""])"s,
             R"([0, -0, 1, -1, 9223372036854775807, -9223372036854775808, 9223372036854775808, 18446744073709551615,
                 18446744073709551616, -9223372036854775809, 1.5, -1.5e10, 1E-5, 0.1, 1e308, 2.2250738585072014e-308,
                 4.9e-324, 1e-400, 123456789012345678901234567890])"s,
             R"({"nested": {"deeper": {"deepest": [[[[[[[[[[{"x": true}]]]]]]]]]]}}, "f": false, "n": null})"s,
             "{\"utf8\": \"\xC3\xA9\xE4\xBD\xA0\xF0\x9F\x9A\x80\x7F\", \"k\xC3\xA9y\": 1}"s,
             " [ ] "s,
             "{}"s,
             "\"just a string\""s,
             "-12.75e-2"s,
         }) {
        SCOPED_TRACE(text);
        expect_same_as_nlohmann(text);
    }
}

// Random byte edits of the fixtures: we accept exactly what nlohmann::json accepts (NUL bytes are left
// out: nlohmann stops reading at one, we treat it as data).
TEST(JsonView, AcceptsExactlyWhatNlohmannAccepts_OnMutatedFixtures) {
    constexpr std::string_view kAlphabet =
        "{}[]:,\"\\/ \t\n0123456789-+.eEtrufalsn\x01\x1f\x7f\x80\xbf\xc3\xe4\xed\xf0\xff";
    std::mt19937 rng(20240521);  // fixed: the test must be reproducible
    int accepted = 0;
    int total = 0;
    for (const auto& [name, text] : telegram_fixtures()) {
        for (int round = 0; round < 400; ++round) {
            std::string m = text;
            const int edits = 1 + static_cast<int>(rng() % 3);
            for (int k = 0; k < edits && !m.empty(); ++k) {
                const std::size_t at = rng() % m.size();
                const char c = kAlphabet[rng() % kAlphabet.size()];
                switch (rng() % 3) {
                    case 0:
                        m[at] = c;
                        break;
                    case 1:
                        m.insert(m.begin() + static_cast<std::ptrdiff_t>(at), c);
                        break;
                    default:
                        m.erase(at, 1);
                        break;
                }
            }
            const bool failed_before = ::testing::Test::HasFailure();
            expect_same_as_nlohmann(m);
            if (!failed_before && ::testing::Test::HasFailure()) {
                ADD_FAILURE() << name << " mutated to: " << hex(m);
                return;
            }
            accepted += std::holds_alternative<JsonDoc>(JsonDoc::parse(m)) ? 1 : 0;
            ++total;
        }
    }
    // Both outcomes are exercised.
    EXPECT_GT(accepted, total / 20);
    EXPECT_LT(accepted, total - total / 20);
}

}  // namespace
}  // namespace leadhatch::core
