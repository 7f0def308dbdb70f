#pragma once

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace leadhatch::core {

// A read-only JSON document parsed in one pass into a flat array of nodes, for hot paths that read a
// few fields of a request body and throw the rest away.
//
// - Strings and keys without escapes are views into the input; strings with escapes are decoded into
//   one side buffer owned by the document. Numbers keep their text and are converted on request.
// - Accepts exactly RFC 8259 JSON: UTF-8 is validated (no overlong forms, no surrogates, nothing past
//   U+10FFFF), control characters must be escaped, \u surrogates must pair up, whitespace is space,
//   tab, CR and LF, and nothing but whitespace may follow the value. A leading byte order mark is
//   rejected (nlohmann::json skips one; callers that need that do it themselves). Numbers whose value
//   overflows a double (1e400) are rejected, as nlohmann::json does; tiny ones (1e-400) are fine.
// - Nesting deeper than max_depth arrays/objects (the outermost one is depth 1) is rejected as soon as
//   the parser reaches it, without recursion: the cost of a hostile body is bounded by its size.
// - Duplicate object keys are kept; find() returns the LAST one, as nlohmann::json and JSON.parse do.
//
// Lifetime: the document borrows `text` (keep it alive and unchanged); a JsonRef borrows the document
// (keep it alive and do not move it while refs are in use).

enum class JsonKind : std::uint8_t { kInvalid, kNull, kBool, kNumber, kString, kArray, kObject };

enum class JsonErrc : std::uint8_t {
    kUnexpectedEnd,     // the input stops inside a value (or is empty)
    kUnexpectedChar,    // a character that cannot start / continue a value here
    kInvalidLiteral,    // something starting like true / false / null that is not
    kInvalidNumber,     // "-", "01", "1.", "1e", ...
    kNumberOutOfRange,  // a number whose value overflows a double
    kControlCharacter,  // an unescaped byte below 0x20 inside a string
    kInvalidEscape,     // a backslash sequence JSON does not define, or bad \u hex digits
    kInvalidSurrogate,  // a \u surrogate that is not part of a high+low pair
    kInvalidUtf8,       // a string byte sequence that is not valid UTF-8
    kTooDeep,           // arrays / objects nested deeper than max_depth
    kTrailingData,      // something other than whitespace after the value
    kByteOrderMark,     // the input starts with a UTF-8 byte order mark
    kTooLarge,          // input of 4 GiB or more
};

// Why parsing failed. Never quotes the input, so it is safe to log.
struct JsonParseError {
    JsonErrc code = JsonErrc::kUnexpectedEnd;
    std::size_t offset = 0;  // byte offset in the input where the problem was found

    std::string_view what() const noexcept;  // a fixed description of `code`
    std::string message() const;             // "<what> at byte <offset>"
};

inline constexpr int kDefaultJsonMaxDepth = 64;

class JsonDoc;

namespace json_detail {

inline constexpr std::uint8_t kInArena = 1;  // string: the text lives in the document's side buffer
inline constexpr std::uint8_t kInteger = 2;  // number: written without fraction or exponent
inline constexpr std::uint8_t kTrue = 4;     // bool: true

// One value (or object key, stored as a string) in document order. Objects store key, value, key,
// value, ...; a container's children follow it directly, so its subtree is [index + 1, end).
struct Node {
    std::uint32_t offset_or_end = 0;    // scalar: offset of its text; container: index one past its subtree
    std::uint32_t length_or_count = 0;  // scalar: byte length of its text; container: elements / members
    JsonKind kind = JsonKind::kNull;
    std::uint8_t flags = 0;
};

}  // namespace json_detail

// A cheap handle on one value of a JsonDoc, or an invalid ref (a missing member, an index out of
// range, a default-constructed ref). Every accessor is safe on any ref: wrong kinds and invalid refs
// read as empty / false / nullopt / invalid.
class JsonRef {
public:
    class ElementIterator;
    class MemberIterator;
    class ElementRange;
    class MemberRange;

    JsonRef() = default;

    bool valid() const noexcept { return doc_ != nullptr; }
    JsonKind kind() const noexcept;
    bool is_null() const noexcept { return kind() == JsonKind::kNull; }
    bool is_bool() const noexcept { return kind() == JsonKind::kBool; }
    bool is_number() const noexcept { return kind() == JsonKind::kNumber; }
    bool is_string() const noexcept { return kind() == JsonKind::kString; }
    bool is_array() const noexcept { return kind() == JsonKind::kArray; }
    bool is_object() const noexcept { return kind() == JsonKind::kObject; }
    // A number written as an integer ("12", "-0"), whether or not it fits an int64.
    bool is_integer() const noexcept;

    // true only for the JSON literal true.
    bool boolean() const noexcept;
    // The decoded value of a string (a view into the input or the document); empty for non-strings.
    std::string_view string() const noexcept;
    std::optional<std::string_view> as_string() const noexcept;
    // The number as written in the input; empty for non-numbers.
    std::string_view number_text() const noexcept;
    // An integer-written number that fits an int64; nullopt for fractions, exponents ("1e3", "1.0"),
    // overflow and non-numbers.
    std::optional<std::int64_t> as_int64() const noexcept;
    // Any number, correctly rounded; values too small for a double read as (signed) zero.
    std::optional<double> as_double() const noexcept;

    // Elements of an array / members of an object; 0 for anything else.
    std::size_t size() const noexcept;
    // Member `key` of an object (the last one if the key repeats); invalid when absent. Linear scan.
    JsonRef find(std::string_view key) const noexcept;
    // Element `index` of an array; invalid when out of range. O(index): prefer elements() to iterate.
    JsonRef operator[](std::size_t index) const noexcept;
    // for (JsonRef e : ref.elements()); empty unless an array.
    ElementRange elements() const noexcept;
    // for (const auto& [key, value] : ref.members()); document order, duplicates included; empty
    // unless an object.
    MemberRange members() const noexcept;

private:
    friend class JsonDoc;

    JsonRef(const JsonDoc* doc, std::uint32_t index) noexcept : doc_(doc), index_(index) {}
    const json_detail::Node& node() const noexcept;

    const JsonDoc* doc_ = nullptr;
    std::uint32_t index_ = 0;
};

struct JsonMember {
    std::string_view key;
    JsonRef value;
};

class JsonDoc {
public:
    // Parses `text` (which must outlive the document). Allocates the node array and, only when some
    // string has escapes, one side buffer; nothing per value.
    static std::variant<JsonDoc, JsonParseError> parse(std::string_view text, int max_depth = kDefaultJsonMaxDepth);

    JsonRef root() const noexcept { return JsonRef(this, 0); }
    std::size_t node_count() const noexcept { return nodes_.size(); }

private:
    friend class JsonRef;

    JsonDoc() = default;

    const json_detail::Node& node(std::uint32_t index) const noexcept { return nodes_[index]; }
    // The index after the subtree rooted at `index`.
    std::uint32_t skip(std::uint32_t index) const noexcept {
        const auto& n = nodes_[index];
        return (n.kind == JsonKind::kArray || n.kind == JsonKind::kObject) ? n.offset_or_end : index + 1;
    }
    std::string_view text_of(const json_detail::Node& n) const noexcept {
        const char* base = (n.flags & json_detail::kInArena) != 0 ? arena_.data() : text_.data();
        return {base + n.offset_or_end, n.length_or_count};
    }

    std::string_view text_;
    std::vector<json_detail::Node> nodes_;
    std::string arena_;  // decoded strings that had escapes; addressed by offset, so moves are safe
};

// ---- iteration ----------------------------------------------------------------------------------

class JsonRef::ElementIterator {
public:
    // Multi-pass, but yields values rather than references: a C++20 forward iterator, a legacy input one.
    using iterator_concept = std::forward_iterator_tag;
    using iterator_category = std::input_iterator_tag;
    using value_type = JsonRef;
    using difference_type = std::ptrdiff_t;
    using reference = JsonRef;

    ElementIterator() = default;
    JsonRef operator*() const noexcept { return JsonRef(doc_, index_); }
    ElementIterator& operator++() noexcept {
        index_ = doc_->skip(index_);
        return *this;
    }
    ElementIterator operator++(int) noexcept {
        auto old = *this;
        ++*this;
        return old;
    }
    bool operator==(const ElementIterator& other) const noexcept { return index_ == other.index_; }

private:
    friend class JsonRef;
    ElementIterator(const JsonDoc* doc, std::uint32_t index) noexcept : doc_(doc), index_(index) {}

    const JsonDoc* doc_ = nullptr;
    std::uint32_t index_ = 0;
};

class JsonRef::MemberIterator {
public:
    using iterator_concept = std::forward_iterator_tag;
    using iterator_category = std::input_iterator_tag;
    using value_type = JsonMember;
    using difference_type = std::ptrdiff_t;
    using reference = JsonMember;

    MemberIterator() = default;
    JsonMember operator*() const noexcept {
        return JsonMember{doc_->text_of(doc_->node(index_)), JsonRef(doc_, index_ + 1)};
    }
    MemberIterator& operator++() noexcept {
        index_ = doc_->skip(index_ + 1);
        return *this;
    }
    MemberIterator operator++(int) noexcept {
        auto old = *this;
        ++*this;
        return old;
    }
    bool operator==(const MemberIterator& other) const noexcept { return index_ == other.index_; }

private:
    friend class JsonRef;
    MemberIterator(const JsonDoc* doc, std::uint32_t index) noexcept : doc_(doc), index_(index) {}

    const JsonDoc* doc_ = nullptr;
    std::uint32_t index_ = 0;
};

class JsonRef::ElementRange {
public:
    ElementIterator begin() const noexcept { return begin_; }
    ElementIterator end() const noexcept { return end_; }

private:
    friend class JsonRef;
    ElementRange(ElementIterator b, ElementIterator e) noexcept : begin_(b), end_(e) {}

    ElementIterator begin_;
    ElementIterator end_;
};

class JsonRef::MemberRange {
public:
    MemberIterator begin() const noexcept { return begin_; }
    MemberIterator end() const noexcept { return end_; }

private:
    friend class JsonRef;
    MemberRange(MemberIterator b, MemberIterator e) noexcept : begin_(b), end_(e) {}

    MemberIterator begin_;
    MemberIterator end_;
};

// ---- inline accessors -----------------------------------------------------------------------------

inline const json_detail::Node& JsonRef::node() const noexcept { return doc_->node(index_); }

inline JsonKind JsonRef::kind() const noexcept { return doc_ != nullptr ? node().kind : JsonKind::kInvalid; }

inline bool JsonRef::is_integer() const noexcept { return is_number() && (node().flags & json_detail::kInteger) != 0; }

inline bool JsonRef::boolean() const noexcept { return is_bool() && (node().flags & json_detail::kTrue) != 0; }

inline std::string_view JsonRef::string() const noexcept {
    return is_string() ? doc_->text_of(node()) : std::string_view();
}

inline std::optional<std::string_view> JsonRef::as_string() const noexcept {
    if (!is_string()) return std::nullopt;
    return doc_->text_of(node());
}

inline std::string_view JsonRef::number_text() const noexcept {
    return is_number() ? doc_->text_of(node()) : std::string_view();
}

inline std::size_t JsonRef::size() const noexcept { return (is_array() || is_object()) ? node().length_or_count : 0; }

inline JsonRef::ElementRange JsonRef::elements() const noexcept {
    if (!is_array()) return {ElementIterator(), ElementIterator()};
    return {ElementIterator(doc_, index_ + 1), ElementIterator(doc_, node().offset_or_end)};
}

inline JsonRef::MemberRange JsonRef::members() const noexcept {
    if (!is_object()) return {MemberIterator(), MemberIterator()};
    return {MemberIterator(doc_, index_ + 1), MemberIterator(doc_, node().offset_or_end)};
}

}  // namespace leadhatch::core
