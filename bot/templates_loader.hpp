#pragma once

#include <filesystem>
#include <vector>

#include "core/messaging/templates.hpp"

namespace leadhatch::bot {

// Message keys every locale must define: the bot's basic commands answer with them.
const std::vector<std::string>& required_message_keys();

// Loads templates/messages/<locale>.json. Problems are reported as
// "templates/messages/en.json: welcome.buttons[0][0].data".
core::TemplateCatalog load_templates(const std::filesystem::path& dir, std::vector<core::TemplateProblem>& problems);

}  // namespace leadhatch::bot
