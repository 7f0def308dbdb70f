#include "adapters/chat/wechat/xml.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <optional>
#include <utility>

namespace leadhatch::adapters::wechat {

namespace {

constexpr std::string_view kBom = "\xEF\xBB\xBF";
constexpr std::string_view kCdataOpen = "<![CDATA[";
constexpr std::string_view kCdataClose = "]]>";
constexpr std::string_view kCommentOpen = "<!--";
constexpr std::string_view kCommentClose = "-->";
constexpr std::string_view kPiClose = "?>";
constexpr std::string_view kXmlTarget = "xml";
constexpr char32_t kMaxCodePoint = 0x10FFFF;

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

bool is_ascii_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

bool is_ascii_digit(char c) { return c >= '0' && c <= '9'; }

// Names: ASCII letters, '_' and ':' first, then also digits, '-' and '.'; any non-ASCII byte is
// accepted (the document was checked to be valid UTF-8).
bool is_name_start(char c) {
    return is_ascii_alpha(c) || c == '_' || c == ':' || static_cast<unsigned char>(c) >= 0x80;
}

bool is_name_char(char c) { return is_name_start(c) || is_ascii_digit(c) || c == '-' || c == '.'; }

// The XML 1.0 Char production.
bool is_xml_char(char32_t cp) {
    return cp == 0x9 || cp == 0xA || cp == 0xD || (cp >= 0x20 && cp <= 0xD7FF) || (cp >= 0xE000 && cp <= 0xFFFD) ||
           (cp >= 0x10000 && cp <= kMaxCodePoint);
}

void append_utf8(std::string& out, char32_t cp) {
    if (cp < 0x80) {
        out.push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
        out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
        out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
        out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
}

// Offset of the first byte that is not well-formed UTF-8 (overlong forms, surrogates and code
// points above U+10FFFF included) or is a C0 control other than tab/LF/CR; nullopt if none.
std::optional<std::size_t> find_bad_byte(std::string_view doc) {
    std::size_t i = 0;
    while (i < doc.size()) {
        const auto b0 = static_cast<unsigned char>(doc[i]);
        if (b0 < 0x80) {
            if (b0 < 0x20 && b0 != '\t' && b0 != '\n' && b0 != '\r') return i;
            ++i;
            continue;
        }
        // Sequence length, payload bits of the lead byte, smallest code point of that length.
        std::size_t len = 4;
        char32_t cp = b0 & 0x07U;
        char32_t min = 0x10000;
        if (b0 >= 0xC2 && b0 <= 0xDF) {
            len = 2;
            cp = b0 & 0x1FU;
            min = 0x80;
        } else if (b0 >= 0xE0 && b0 <= 0xEF) {
            len = 3;
            cp = b0 & 0x0FU;
            min = 0x800;
        } else if (b0 < 0xF0 || b0 > 0xF4) {
            return i;
        }
        if (doc.size() - i < len) return i;
        for (std::size_t k = 1; k < len; ++k) {
            const auto b = static_cast<unsigned char>(doc[i + k]);
            if ((b & 0xC0U) != 0x80U) return i;
            cp = (cp << 6) | (b & 0x3FU);
        }
        if (cp < min || cp > kMaxCodePoint || (cp >= 0xD800 && cp <= 0xDFFF)) return i;
        i += len;
    }
    return std::nullopt;
}

// Shape of a pseudo-attribute value in the XML declaration.
bool valid_declaration_value(std::string_view name, std::string_view value) {
    if (name == "version") {
        return value.size() > 2 && value.starts_with("1.") &&
               value.find_first_not_of("0123456789", 2) == std::string_view::npos;
    }
    if (name == "encoding") {
        return !value.empty() && is_ascii_alpha(value.front()) && std::all_of(value.begin(), value.end(), [](char c) {
            return is_ascii_alpha(c) || is_ascii_digit(c) || c == '.' || c == '_' || c == '-';
        });
    }
    return value == "yes" || value == "no";  // standalone
}

class Parser {
public:
    Parser(std::string_view doc, const XmlLimits& limits) : doc_(doc), limits_(limits) {}

    std::variant<XmlElement, std::string> run() {
        if (doc_.size() > limits_.max_bytes) {
            return "xml: document larger than " + std::to_string(limits_.max_bytes) + " bytes";
        }
        if (const auto bad = find_bad_byte(doc_)) {
            pos_ = *bad;
            fail("invalid UTF-8 or control character");
            return std::move(error_);
        }
        if (parse_document()) return std::move(*root_);
        return std::move(error_);
    }

private:
    bool parse_document() {
        if (doc_.starts_with(kBom)) pos_ = kBom.size();
        if (at_xml_declaration() && !parse_declaration()) return false;
        stack_.reserve(limits_.max_depth > 0 ? static_cast<std::size_t>(limits_.max_depth) : 0);
        while (true) {
            if (stack_.empty()) {
                skip_spaces();
                if (pos_ == doc_.size()) break;
                if (!parse_misc()) return false;
            } else {
                if (pos_ == doc_.size()) return fail("unclosed element");
                if (!parse_content()) return false;
            }
        }
        if (!root_) return fail("no root element");
        return true;
    }

    // Outside the root element: comments, processing instructions, or the root's start tag.
    bool parse_misc() {
        if (doc_[pos_] != '<') return fail(root_ ? "content after the root element" : "text before the root element");
        if (rest().starts_with(kCommentOpen)) return skip_comment();
        if (rest().starts_with("<?")) return skip_pi();
        if (rest().starts_with("<!")) return reject_declaration();
        if (rest().starts_with("</")) return fail("end tag without start tag");
        if (root_) return fail("more than one root element");
        return parse_start_tag();
    }

    // Inside an element: text, CDATA, comments, processing instructions, child elements, end tags.
    bool parse_content() {
        if (doc_[pos_] != '<') return parse_text();
        if (rest().starts_with(kCdataOpen)) return parse_cdata();
        if (rest().starts_with(kCommentOpen)) return skip_comment();
        if (rest().starts_with("<?")) return skip_pi();
        if (rest().starts_with("<!")) return reject_declaration();
        if (rest().starts_with("</")) return parse_end_tag();
        return parse_start_tag();
    }

    bool parse_start_tag() {
        ++pos_;  // '<'
        std::string name;
        if (!parse_name(name)) return false;
        if (limits_.max_depth <= 0 || stack_.size() >= static_cast<std::size_t>(limits_.max_depth)) {
            return fail("elements nested deeper than " + std::to_string(limits_.max_depth));
        }
        if (++elements_ > limits_.max_elements) {
            return fail("more than " + std::to_string(limits_.max_elements) + " elements");
        }
        while (true) {
            const bool spaced = skip_spaces();
            if (pos_ == doc_.size()) return fail("unterminated start tag");
            if (doc_[pos_] == '>') {
                ++pos_;
                stack_.push_back(XmlElement{std::move(name), {}, {}});
                return true;
            }
            if (doc_[pos_] == '/') {
                if (!rest().starts_with("/>")) return fail("expected '/>'");
                pos_ += 2;
                close_element(XmlElement{std::move(name), {}, {}});
                return true;
            }
            if (!spaced) return fail("expected whitespace before attribute");
            if (!skip_attribute()) return false;
        }
    }

    // name S? '=' S? ("..." | '...'); the value is checked and dropped.
    bool skip_attribute() {
        std::string name;
        if (!parse_name(name)) return false;
        skip_spaces();
        if (pos_ == doc_.size() || doc_[pos_] != '=') return fail("expected '=' after attribute name");
        ++pos_;
        skip_spaces();
        if (pos_ == doc_.size() || (doc_[pos_] != '"' && doc_[pos_] != '\'')) return fail("expected quoted value");
        const char quote = doc_[pos_++];
        const std::size_t end = doc_.find(quote, pos_);
        if (end == std::string_view::npos) return fail("unterminated attribute value");
        const std::string_view value = doc_.substr(pos_, end - pos_);
        if (const auto lt = value.find('<'); lt != std::string_view::npos) {
            pos_ += lt;
            return fail("'<' in attribute value");
        }
        std::string scratch;
        if (!decode_into(value, scratch)) return false;
        pos_ = end + 1;
        return true;
    }

    bool parse_end_tag() {
        pos_ += 2;  // "</"
        const std::size_t name_at = pos_;
        std::string name;
        if (!parse_name(name)) return false;
        skip_spaces();
        if (pos_ == doc_.size() || doc_[pos_] != '>') return fail("expected '>' to close end tag");
        if (name != stack_.back().name) {
            pos_ = name_at;
            return fail("end tag does not match start tag");
        }
        ++pos_;
        XmlElement done = std::move(stack_.back());
        stack_.pop_back();
        close_element(std::move(done));
        return true;
    }

    void close_element(XmlElement&& element) {
        if (stack_.empty()) {
            root_ = std::move(element);
        } else {
            stack_.back().children.push_back(std::move(element));
        }
    }

    bool parse_text() {
        std::size_t end = doc_.find('<', pos_);
        if (end == std::string_view::npos) end = doc_.size();
        const std::string_view raw = doc_.substr(pos_, end - pos_);
        if (const std::size_t hit = raw.find(kCdataClose); hit != std::string_view::npos) {
            pos_ += hit;
            return fail("']]>' outside a CDATA section");
        }
        if (!decode_into(raw, stack_.back().text)) return false;
        pos_ = end;
        return true;
    }

    bool parse_cdata() {
        const std::size_t start = pos_ + kCdataOpen.size();
        const std::size_t end = doc_.find(kCdataClose, start);
        if (end == std::string_view::npos) return fail("unterminated CDATA section");
        stack_.back().text.append(doc_.substr(start, end - start));
        pos_ = end + kCdataClose.size();
        return true;
    }

    // "<!--" ... "-->", with no "--" inside.
    bool skip_comment() {
        const std::size_t dashes = doc_.find("--", pos_ + kCommentOpen.size());
        if (dashes == std::string_view::npos) return fail("unterminated comment");
        pos_ = dashes;
        if (!rest().starts_with(kCommentClose)) return fail("'--' inside a comment");
        pos_ += kCommentClose.size();
        return true;
    }

    // <?xml version="1.x" (encoding="...")? (standalone="yes"|"no")? ?> at the very start. The
    // values are checked for shape only: the input is UTF-8 whatever encoding says.
    bool parse_declaration() {
        pos_ += 5;  // "<?xml"
        constexpr std::array<std::string_view, 3> kPseudoAttributes = {"version", "encoding", "standalone"};
        std::size_t next = 0;  // pseudo-attributes must appear in this order, version first
        while (true) {
            const bool spaced = skip_spaces();
            if (rest().starts_with(kPiClose)) break;
            if (!spaced) return fail("malformed XML declaration");
            std::string name;
            if (!parse_name(name)) return false;
            const std::size_t index = next;
            while (next < kPseudoAttributes.size() && kPseudoAttributes.at(next) != name) ++next;
            if (next == kPseudoAttributes.size() || (index == 0 && next != 0)) {
                return fail("malformed XML declaration");
            }
            ++next;
            skip_spaces();
            if (!rest().starts_with("=")) return fail("malformed XML declaration");
            ++pos_;
            skip_spaces();
            if (pos_ == doc_.size() || (doc_[pos_] != '"' && doc_[pos_] != '\'')) {
                return fail("malformed XML declaration");
            }
            const char quote = doc_[pos_++];
            const std::size_t end = doc_.find(quote, pos_);
            if (end == std::string_view::npos || !valid_declaration_value(name, doc_.substr(pos_, end - pos_))) {
                return fail("malformed XML declaration");
            }
            pos_ = end + 1;
        }
        if (next == 0) return fail("XML declaration without version");
        pos_ += kPiClose.size();
        return true;
    }

    // A processing instruction: its target must be a name followed by whitespace or "?>", and not
    // "xml" in any case (the declaration is only allowed first, and parsed by parse_declaration()).
    bool skip_pi() {
        if (at_reserved_pi()) return fail("misplaced XML declaration");
        pos_ += 2;  // "<?"
        std::string target;
        if (!parse_name(target)) return false;
        if (!rest().starts_with(kPiClose) && !skip_spaces()) return fail("malformed processing instruction");
        const std::size_t end = doc_.find(kPiClose, pos_);
        if (end == std::string_view::npos) return fail("unterminated processing instruction");
        pos_ = end + kPiClose.size();
        return true;
    }

    bool reject_declaration() {
        if (rest().starts_with("<!DOCTYPE")) return fail("DOCTYPE is not allowed");
        if (rest().starts_with("<!ENTITY")) return fail("ENTITY declarations are not allowed");
        return fail("markup declarations are not allowed");
    }

    // "<?xml" followed by whitespace or "?>": the XML declaration.
    [[nodiscard]] bool at_xml_declaration() const {
        const std::string_view r = rest();
        return r.size() > 5 && r.starts_with("<?xml") && (is_space(r[5]) || r[5] == '?');
    }

    // A processing instruction whose target is "xml" in any case (reserved).
    [[nodiscard]] bool at_reserved_pi() const {
        const std::string_view r = rest();
        if (r.size() < 6 || !r.starts_with("<?")) return false;
        for (std::size_t i = 0; i < kXmlTarget.size(); ++i) {
            if (static_cast<char>(r[2 + i] | 0x20) != kXmlTarget[i]) return false;
        }
        return is_space(r[5]) || r[5] == '?';
    }

    bool parse_name(std::string& out) {
        const std::size_t start = pos_;
        if (pos_ == doc_.size() || !is_name_start(doc_[pos_])) return fail("expected a name");
        while (pos_ < doc_.size() && is_name_char(doc_[pos_])) ++pos_;
        out.assign(doc_.substr(start, pos_ - start));
        return true;
    }

    // Appends `raw` to `out` with the predefined entities and character references decoded.
    // Anything else after '&' is an error: there are no other entities.
    bool decode_into(std::string_view raw, std::string& out) {
        const auto base = static_cast<std::size_t>(raw.data() - doc_.data());
        std::size_t i = 0;
        while (i < raw.size()) {
            const std::size_t amp = raw.find('&', i);
            if (amp == std::string_view::npos) {
                out.append(raw.substr(i));
                break;
            }
            out.append(raw.substr(i, amp - i));
            const std::size_t semi = raw.find(';', amp + 1);
            if (semi == std::string_view::npos) {
                pos_ = base + amp;
                return fail("unterminated reference");
            }
            const std::string_view ref = raw.substr(amp + 1, semi - amp - 1);
            if (ref == "lt") {
                out.push_back('<');
            } else if (ref == "gt") {
                out.push_back('>');
            } else if (ref == "amp") {
                out.push_back('&');
            } else if (ref == "quot") {
                out.push_back('"');
            } else if (ref == "apos") {
                out.push_back('\'');
            } else if (ref.starts_with('#')) {
                const auto cp = parse_char_ref(ref.substr(1));
                if (!cp) {
                    pos_ = base + amp;
                    return fail("invalid character reference");
                }
                append_utf8(out, *cp);
            } else {
                pos_ = base + amp;
                return fail("undefined entity");
            }
            i = semi + 1;
        }
        return true;
    }

    // "65" or "x41" (no sign, no spaces); the value must be an XML Char.
    static std::optional<char32_t> parse_char_ref(std::string_view digits) {
        std::uint32_t radix = 10;
        if (!digits.empty() && digits.front() == 'x') {
            radix = 16;
            digits.remove_prefix(1);
        }
        if (digits.empty()) return std::nullopt;
        std::uint32_t value = 0;
        for (const char c : digits) {
            std::uint32_t d = 0;
            if (is_ascii_digit(c)) {
                d = static_cast<std::uint32_t>(c - '0');
            } else if (radix == 16 && c >= 'a' && c <= 'f') {
                d = static_cast<std::uint32_t>(c - 'a' + 10);
            } else if (radix == 16 && c >= 'A' && c <= 'F') {
                d = static_cast<std::uint32_t>(c - 'A' + 10);
            } else {
                return std::nullopt;
            }
            value = value * radix + d;
            if (value > kMaxCodePoint) return std::nullopt;  // also keeps the next multiply in range
        }
        const auto cp = static_cast<char32_t>(value);
        if (!is_xml_char(cp)) return std::nullopt;
        return cp;
    }

    // Returns whether anything was skipped.
    bool skip_spaces() {
        const std::size_t start = pos_;
        while (pos_ < doc_.size() && is_space(doc_[pos_])) ++pos_;
        return pos_ != start;
    }

    [[nodiscard]] std::string_view rest() const { return doc_.substr(pos_); }

    bool fail(const std::string& what) {
        error_ = "xml: " + what + " at offset " + std::to_string(pos_);
        return false;
    }

    std::string_view doc_;
    const XmlLimits& limits_;
    std::size_t pos_ = 0;
    std::size_t elements_ = 0;
    std::vector<XmlElement> stack_;  // open elements, innermost last
    std::optional<XmlElement> root_;
    std::string error_;
};

}  // namespace

const XmlElement* XmlElement::child(std::string_view child_name) const {
    for (const XmlElement& c : children) {
        if (c.name == child_name) return &c;
    }
    return nullptr;
}

std::string XmlElement::child_text(std::string_view child_name) const {
    const XmlElement* c = child(child_name);
    return c != nullptr ? c->text : std::string{};
}

std::vector<const XmlElement*> XmlElement::children_named(std::string_view child_name) const {
    std::vector<const XmlElement*> out;
    for (const XmlElement& c : children) {
        if (c.name == child_name) out.push_back(&c);
    }
    return out;
}

std::variant<XmlElement, std::string> parse_xml(std::string_view doc, const XmlLimits& limits) {
    return Parser(doc, limits).run();
}

std::string xml_cdata(std::string_view text) {
    std::string out;
    out.reserve(text.size() + kCdataOpen.size() + kCdataClose.size());
    out.append(kCdataOpen);
    std::size_t start = 0;
    for (std::size_t hit = text.find(kCdataClose); hit != std::string_view::npos; hit = text.find(kCdataClose, start)) {
        // Close the section after "]]" and reopen it before ">".
        out.append(text.substr(start, hit + 2 - start));
        out.append(kCdataClose);
        out.append(kCdataOpen);
        start = hit + 2;
    }
    out.append(text.substr(start));
    out.append(kCdataClose);
    return out;
}

std::string xml_escape(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (const char c : text) {
        switch (c) {
            case '&':
                out.append("&amp;");
                break;
            case '<':
                out.append("&lt;");
                break;
            case '>':
                out.append("&gt;");
                break;
            case '"':
                out.append("&quot;");
                break;
            case '\'':
                out.append("&apos;");
                break;
            default:
                out.push_back(c);
                break;
        }
    }
    return out;
}

}  // namespace leadhatch::adapters::wechat
