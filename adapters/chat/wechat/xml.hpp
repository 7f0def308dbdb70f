#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace leadhatch::adapters::wechat {

// One element of a parsed document. Attributes are parsed (for well-formedness) and dropped:
// WeChat and WeCom callbacks carry everything in child elements.
struct XmlElement {
    std::string name;
    // All character data directly inside this element, in document order, with references decoded
    // and CDATA sections unwrapped; nothing is trimmed. For an element with children this includes
    // the whitespace between them, so read leaf values through child_text().
    std::string text;
    std::vector<XmlElement> children;

    // The first child called `child_name`, or nullptr.
    [[nodiscard]] const XmlElement* child(std::string_view child_name) const;
    // The text of the first child called `child_name`; empty when there is none (use child() to
    // tell "absent" from "empty").
    [[nodiscard]] std::string child_text(std::string_view child_name) const;
    // Every child called `child_name`, in document order (for repeated elements such as <Item>).
    [[nodiscard]] std::vector<const XmlElement*> children_named(std::string_view child_name) const;
};

struct XmlLimits {
    std::size_t max_bytes = std::size_t{1} << 20;
    int max_depth = 16;  // the root element is depth 1
    std::size_t max_elements = 10000;
};

// Parses one XML document meant for WeChat/WeCom callback bodies and treats the input as hostile:
//   - the input must be UTF-8 (an `encoding` in the declaration is checked for shape only) with no
//     control characters other than tab/CR/LF;
//   - an optional BOM, then an optional `<?xml version=... ?>` declaration; comments and processing
//     instructions are skipped;
//   - any `<!DOCTYPE`, `<!ENTITY` or other markup declaration is rejected: no DTDs, no external
//     entities, no entity expansion;
//   - only &lt; &gt; &amp; &quot; &apos; and numeric character references (validated as XML
//     characters, encoded as UTF-8) are decoded; any other `&name;` is an error;
//   - mismatched or unclosed tags, a second root, text or markup after the root, and documents over
//     `limits` are errors.
// Runs in linear time with an explicit stack (no recursion). The error string names the problem and
// a byte offset, never document content.
std::variant<XmlElement, std::string> parse_xml(std::string_view doc, const XmlLimits& limits = {});

// `text` as one or more CDATA sections: <![CDATA[...]]>. A "]]>" inside `text` is split across
// two sections, so parse_xml() gives back exactly `text`.
std::string xml_cdata(std::string_view text);

// `text` with & < > " ' replaced by the predefined entities, for element text or attribute values.
std::string xml_escape(std::string_view text);

}  // namespace leadhatch::adapters::wechat
