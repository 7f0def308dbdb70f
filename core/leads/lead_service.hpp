#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "core/funnel/funnel.hpp"
#include "core/leads/lead_fields.hpp"
#include "core/scoring/scoring.hpp"
#include "core/storage/storage.hpp"

namespace leadhatch::core {

// Marketing status, in order: a lead only moves forward automatically.
// new → engaged → mql → sql → customer → advocate.
int status_rank(std::string_view status);  // -1 when unknown
bool valid_status(std::string_view status);
// Lifecycle derived from stage and status: acquisition, development, retention, lost.
std::string lifecycle_for(std::string_view stage, std::string_view status);

// Who changed something: "api:<token name>", "system", "rule:<id>", "user".
struct Actor {
    std::string name;
};

// A change requested through the admin API. Unset members stay as they are.
struct LeadPatch {
    std::optional<std::string> display_name;
    std::optional<std::string> phone;
    std::optional<std::string> email;
    std::optional<std::string> company;
    std::optional<std::string> title;
    std::optional<std::string> region;
    std::optional<std::string> industry;
    std::optional<std::optional<std::int64_t>> company_size;
    std::optional<std::string> custom_fields;  // a JSON object's text
    std::optional<std::string> notes;
    std::optional<std::string> owner;
    std::optional<bool> phone_verified;
    std::optional<bool> email_verified;
    std::optional<std::vector<std::string>> tags;  // replace all tags
    std::vector<std::string> add_tags;
    std::vector<std::string> remove_tags;
    std::optional<std::string> stage;
    std::string reason;  // for stage moves that need one (lost, backward, reopen)
    std::optional<std::optional<std::int64_t>> deal_value;  // minor units
    std::optional<std::string> currency;
    std::optional<std::string> status;  // manual status (customer, advocate, ...): forward only
};

// A planned change: rows to write (inside the caller's transaction) and the record after it.
struct LeadChange {
    WriteSet writes;
    LeadRecord after;
    bool changed = false;
};

// A lead's score state and what moving it means.
struct ScoreUpdate {
    std::int64_t demographic = 0;
    double behavioral = 0;  // at `at`
    Timestamp at{};
    std::int64_t score = 0;
    std::string grade;
    std::optional<Timestamp> grade_expires_at;
};

// The lead rules that are not about one platform: admin edits, stage moves, scoring, segments,
// status and lifecycle, merges and erasure. Pure: it plans WriteSets from records; storage
// applies them. Every change of stage, status, owner, score or tags becomes a timeline event
// with the actor, the old and new value and a reason.
class LeadService {
public:
    LeadService(const Funnel& funnel, const ScoringEngine& scoring, const SegmentsConfig& segments);

    const Funnel& funnel() const { return funnel_; }
    const ScoringEngine& scoring() const { return scoring_; }

    // Validates a patch against the current record. Errors carry code "invalid" (400, with the
    // field) or "conflict" (409: an impossible stage move, with why).
    Expected<LeadChange> plan_patch(const LeadRecord& current, const LeadPatch& patch, const Actor& actor,
                                    Timestamp now) const;

    // Merges source into target: history moves, fields the target lacks are filled from the
    // source, tags are united, the score is recomputed. Error "conflict" for merged/same leads.
    Expected<LeadChange> plan_merge(const LeadRecord& source, const LeadRecord& target, const Actor& actor,
                                    const std::string& reason, Timestamp now) const;

    LeadChange plan_erase(const LeadRecord& lead, const Actor& actor, Timestamp now) const;

    // The score now: demographic from the fields, behavioural decayed from the stored state plus
    // `awards`.
    ScoreUpdate rescore(const LeadRecord& lead, const std::vector<ScoreAward>& awards, Timestamp now) const;
    // The same from a stored state, keeping the demographic points as they are (the inbound
    // pipeline does not read the demographic fields).
    ScoreUpdate rescore_with(std::int64_t demographic, double behavioral, Timestamp score_at,
                             const std::vector<ScoreAward>& awards, Timestamp now) const;

    // Writes a score update into `w` for `lead` (LeadUpdate fields, score entries, a score_changed
    // event, and a status move when a threshold is crossed); updates `lead` to match.
    void record_score(LeadRecord& lead, const ScoreUpdate& update, const std::vector<ScoreAward>& awards,
                      const Actor& actor, const std::string& channel, WriteSet& w, LeadUpdate& u) const;

    // Moves the status forward to `to` (never back), with its event; no-op when not forward.
    void advance_status(LeadRecord& lead, const std::string& to, const std::string& reason, const Actor& actor,
                        const std::string& channel, Timestamp now, WriteSet& w, LeadUpdate& u) const;

    static LeadFields fields_of(const LeadRecord& lead);

private:
    const Funnel& funnel_;
    const ScoringEngine& scoring_;
    const SegmentsConfig& segments_;
};

}  // namespace leadhatch::core
