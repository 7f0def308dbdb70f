#include "core/funnel/funnel.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <map>
#include <optional>
#include <stdexcept>
#include <utility>

#include <nlohmann/json.hpp>

#include "core/util/config_reader.hpp"

namespace leadhatch::core {
namespace {

using nlohmann::json;

using Problems = ConfigProblems;

bool valid_id(std::string_view id) {
    return std::all_of(id.begin(), id.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
    });
}

bool has_text(std::string_view s) {
    return std::any_of(s.begin(), s.end(), [](char c) { return c != ' ' && c != '\t' && c != '\n' && c != '\r'; });
}

StageDef stage(std::string id, std::string label, int probability, bool terminal = false,
               bool requires_reason = false) {
    return StageDef{std::move(id), std::move(label), probability, terminal, requires_reason};
}

}  // namespace

FunnelConfig default_funnel() {
    FunnelConfig config;
    config.stages = {
        stage("opportunity", "Opportunity", 0),
        stage("identified", "Identified", 10),
        stage("demo", "Demo", 30),
        stage("decision_maker", "Decision maker", 50),
        stage("negotiation", "Negotiation", 70),
        stage("contract", "Contract", 90),
        stage("won", "Won", 100, true),
        stage("lost", "Lost", 0, true, true),
    };
    config.allow_backward = true;
    return config;
}

Expected<FunnelConfig> parse_funnel(std::string_view json_text, const std::string& source,
                                    std::vector<TemplateProblem>& problems) {
    Problems p(source, problems);
    json doc;
    if (!parse_document(json_text, doc, p, "with \"stages\"")) return p.error();
    check_keys(doc, "", {"stages", "allow_backward"}, p);

    FunnelConfig config;
    if (auto b = read_bool(doc, "", "allow_backward", p)) config.allow_backward = *b;

    // Parsed stages with their position in the file, for the order checks below.
    std::vector<std::pair<std::size_t, StageDef>> parsed;
    auto stages = doc.find("stages");
    if (stages == doc.end()) {
        p.add("stages", "required, an array of stages in funnel order");
    } else if (!stages->is_array()) {
        p.add("stages", std::string("must be an array of stages, not ") + stages->type_name());
    } else if (stages->size() < 2) {
        p.add("stages", "needs at least two stages");
    } else {
        std::map<std::string, std::size_t> seen;
        for (std::size_t i = 0; i < stages->size(); ++i) {
            const json& s = (*stages)[i];
            const std::string path = path_index("stages", i);
            if (!s.is_object()) {
                p.add(path, std::string("must be an object with id and probability, not ") + s.type_name());
                continue;
            }
            check_keys(s, path, {"id", "label", "probability", "terminal", "requires_reason"}, p);
            StageDef def;
            bool ok = true;
            if (auto id = read_string(s, path, "id", true, false, p)) {
                if (!valid_id(*id)) {
                    p.add(path_join(path, "id"), "use letters, digits, '_' and '-'");
                    ok = false;
                } else if (auto [it, fresh] = seen.emplace(*id, i); !fresh) {
                    p.add(path_join(path, "id"),
                          "duplicate stage id '" + *id + "' (first at " + path_index("stages", it->second) + ")");
                    ok = false;
                }
                def.id = *id;
            } else {
                ok = false;
            }
            if (s.contains("label")) {
                if (auto label = read_string(s, path, "label", false, false, p)) def.label = *label;
            }
            if (def.label.empty()) def.label = def.id;
            if (auto prob = read_int(s, path, "probability", true, 0, 100, p)) {
                def.probability = *prob;
            } else {
                ok = false;
            }
            if (auto t = read_bool(s, path, "terminal", p)) def.terminal = *t;
            if (auto r = read_bool(s, path, "requires_reason", p)) def.requires_reason = *r;
            if (ok) parsed.emplace_back(i, std::move(def));
        }
    }

    // Order rules: reopened leads go back to the first stage, so it must be open; and "forward"
    // must never lead out of a terminal stage into an open one.
    if (!parsed.empty() && parsed.front().first == 0 && parsed.front().second.terminal) {
        p.add("stages[0].terminal", "the first stage cannot be terminal: reopened leads return to it");
    }
    for (std::size_t a = 0; a < parsed.size(); ++a) {
        if (!parsed[a].second.terminal || parsed[a].first == 0) continue;
        auto open_after = std::find_if(parsed.begin() + static_cast<std::ptrdiff_t>(a) + 1, parsed.end(),
                                       [](const auto& e) { return !e.second.terminal; });
        if (open_after != parsed.end()) {
            p.add(path_join(path_index("stages", parsed[a].first), "terminal"), "terminal stages come after every open stage ('" +
                                                                          open_after->second.id + "' follows '" +
                                                                          parsed[a].second.id + "')");
            break;
        }
    }

    if (p.count() > 0) return p.error();
    for (auto& [i, def] : parsed) config.stages.push_back(std::move(def));
    return config;
}

Funnel::Funnel(FunnelConfig config) : config_(std::move(config)) {
    if (config_.stages.empty()) throw std::invalid_argument("a funnel needs at least one stage");
}

const StageDef* Funnel::stage(std::string_view id) const {
    auto it = std::find_if(config_.stages.begin(), config_.stages.end(), [&](const StageDef& s) { return s.id == id; });
    return it == config_.stages.end() ? nullptr : &*it;
}

int Funnel::index(std::string_view id) const {
    for (std::size_t i = 0; i < config_.stages.size(); ++i) {
        if (config_.stages[i].id == id) return static_cast<int>(i);
    }
    return -1;
}

TransitionCheck Funnel::can_move(std::string_view from, std::string_view to, std::string_view reason) const {
    auto refuse = [](std::string why) { return TransitionCheck{false, std::move(why)}; };
    const int from_i = index(from);
    const int to_i = index(to);
    if (from_i < 0) return refuse("unknown stage '" + std::string(from) + "'");
    if (to_i < 0) return refuse("unknown stage '" + std::string(to) + "'");
    if (from_i == to_i) return refuse("already in stage " + std::string(from));

    const StageDef& source = config_.stages[static_cast<std::size_t>(from_i)];
    const StageDef& target = config_.stages[static_cast<std::size_t>(to_i)];
    const bool reasoned = has_text(reason);
    if (source.terminal) {
        if (to_i != 0) return refuse("cannot move from " + source.id + ": reopen to " + first().id + " with a reason");
        if (!reasoned) return refuse("reopening from " + source.id + " to " + target.id + " needs a reason");
        return {true, {}};
    }
    if (target.requires_reason && !reasoned) return refuse(target.id + " needs a reason");
    if (to_i < from_i) {
        if (!config_.allow_backward) {
            return refuse("moving back from " + source.id + " to " + target.id + " is not allowed");
        }
        if (!reasoned) return refuse("moving back from " + source.id + " to " + target.id + " needs a reason");
    }
    return {true, {}};
}

}  // namespace leadhatch::core
