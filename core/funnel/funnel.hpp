#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"
#include "core/messaging/templates.hpp"

namespace leadhatch::core {

// One stage of the sales funnel, from templates/funnel.json.
struct StageDef {
    std::string id;              // "opportunity", "identified", ...
    std::string label;           // for people; defaults to id
    int probability = 0;         // win probability in percent, 0..100
    bool terminal = false;       // won / lost: nothing follows
    bool requires_reason = false;  // lost: a reason is required
};

struct FunnelConfig {
    std::vector<StageDef> stages;  // in funnel order
    bool allow_backward = true;    // moving to an earlier stage (with a reason) is allowed
};

// The default funnel: opportunity 0%, identified 10%, demo 30%, decision-maker 50%,
// negotiation 70%, contract 90%, won 100% (terminal), lost 0% (terminal, reason required).
FunnelConfig default_funnel();

// Parses templates/funnel.json:
//   { "stages": [ { "id": "opportunity", "label": "Opportunity", "probability": 0 }, ...,
//                 { "id": "won", "probability": 100, "terminal": true },
//                 { "id": "lost", "probability": 0, "terminal": true, "requires_reason": true } ],
//     "allow_backward": true }
// Every problem is appended as "<source>: stages[3].probability" + message; on any problem the
// result is an Error and the caller keeps the default.
Expected<FunnelConfig> parse_funnel(std::string_view json_text, const std::string& source,
                                    std::vector<TemplateProblem>& problems);

struct TransitionCheck {
    bool ok = false;
    std::string why;  // when !ok: a sentence for the API's 409/400 ("lost needs a reason", ...)
};

// Stage rules. Moves: forward to any later stage; backward only when allow_backward and with a
// reason; into a stage that requires_reason only with a reason; out of a terminal stage only back
// to the first stage ("reopen") and with a reason; to the same stage: not a move (ok=false).
class Funnel {
public:
    explicit Funnel(FunnelConfig config);
    const FunnelConfig& config() const { return config_; }
    const StageDef* stage(std::string_view id) const;
    int index(std::string_view id) const;  // -1 when unknown
    const StageDef& first() const { return config_.stages.front(); }
    TransitionCheck can_move(std::string_view from, std::string_view to, std::string_view reason) const;

private:
    FunnelConfig config_;
};

}  // namespace leadhatch::core
