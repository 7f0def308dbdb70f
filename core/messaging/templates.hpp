#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/messaging/outbound.hpp"

namespace leadhatch::core {

struct TemplateProblem {
    std::string path;  // "templates/messages/en.json: welcome.buttons[0][1].data"
    std::string message;
};

struct MessageTemplate {
    std::string text;
    std::string parse_mode;  // "" or "HTML"
    std::vector<std::vector<Button>> buttons;
};

using TemplateVars = std::vector<std::pair<std::string, std::string>>;

// Message texts by key and locale, loaded from templates/messages/<locale>.json:
//   { "welcome": "Hi {{name}}", "menu": { "text": "...", "parse_mode": "HTML",
//     "buttons": [[{ "text": "Pricing", "data": "menu:pricing" }]] } }
// Placeholders are {{name}}; values are HTML-escaped when the template's parse_mode is HTML.
class TemplateCatalog {
public:
    // Adds one locale file. Problems name the file and the JSON path; a bad entry is skipped.
    void add_locale(const std::string& locale, std::string_view json_text, const std::string& source,
                    std::vector<TemplateProblem>& problems);

    // Keys every locale must have, checked by validate().
    void validate_required(const std::vector<std::string>& keys, std::vector<TemplateProblem>& problems) const;

    // The best locale for a user: exact tag, then its language ("zh-hans" -> "zh-CN"/"zh"), then
    // the fallback.
    std::string pick_locale(std::string_view user_language, std::string_view fallback) const;

    // Exactly this locale's template, or nullptr.
    const MessageTemplate* find(std::string_view key, std::string_view locale) const;
    // The template render() would use: locale, then "en", then any locale; nullptr if none has key.
    const MessageTemplate* lookup(std::string_view key, std::string_view locale) const;

    // Renders key in locale (falling back to "en", then any locale). Unknown key: nullopt.
    std::optional<MessageTemplate> render(std::string_view key, std::string_view locale,
                                          const TemplateVars& vars) const;

    bool empty() const { return locales_.empty(); }
    std::vector<std::string> locales() const;

private:
    std::map<std::string, std::map<std::string, MessageTemplate, std::less<>>, std::less<>> locales_;
    std::map<std::string, std::string, std::less<>> sources_;
};

// Replaces {{name}} placeholders. Unknown names render as empty text.
std::string render_text(std::string_view text, const TemplateVars& vars, bool html_escape);
std::string html_escape(std::string_view s);

}  // namespace leadhatch::core
