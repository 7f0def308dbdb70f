#pragma once

#include <filesystem>
#include <vector>

#include "core/funnel/funnel.hpp"
#include "core/messaging/templates.hpp"
#include "core/scoring/scoring.hpp"

namespace leadhatch::bot {

// Message keys every locale must define: the bot's basic commands answer with them.
const std::vector<std::string>& required_message_keys();

// Loads templates/messages/<locale>.json. Problems are reported as
// "templates/messages/en.json: welcome.buttons[0][0].data".
core::TemplateCatalog load_templates(const std::filesystem::path& dir, std::vector<core::TemplateProblem>& problems);

// Everything templates/ configures. Missing optional files mean the defaults: funnel.json (the
// default funnel), scoring.json (no rules), segments.json (segments by company size).
struct TemplateBundle {
    core::TemplateCatalog messages;
    core::FunnelConfig funnel = core::default_funnel();
    core::ScoringConfig scoring;
    core::SegmentsConfig segments = core::default_segments();
};
TemplateBundle load_template_bundle(const std::filesystem::path& dir, std::vector<core::TemplateProblem>& problems);

}  // namespace leadhatch::bot
