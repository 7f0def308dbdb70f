#include "core/conversation/ingest.hpp"

#include <algorithm>
#include <stdexcept>
#include <unordered_map>
#include <unordered_set>

#include "core/leads/referral.hpp"
#include "core/util/json_writer.hpp"

namespace leadhatch::core {
namespace {

constexpr std::size_t kNameMax = 255;
constexpr std::size_t kLanguageMax = 32;
constexpr std::size_t kTextMax = 4000;
constexpr std::size_t kNone = static_cast<std::size_t>(-1);
constexpr std::size_t kMenuMax = 2000;  // lead_identities.menu is VARCHAR(2048) on MySQL

std::string composite(std::string_view a, std::string_view b) {
    std::string k;
    k.reserve(a.size() + b.size() + 1);
    k.append(a);
    k += '\x1f';
    k.append(b);
    return k;
}

std::string trim_lower(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\n' || s.front() == '\t' || s.front() == '\r')) {
        s.remove_prefix(1);
    }
    while (!s.empty() && (s.back() == ' ' || s.back() == '\n' || s.back() == '\t' || s.back() == '\r')) {
        s.remove_suffix(1);
    }
    std::string out(s);
    for (auto& c : out) {
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    return out;
}

// Where a lead came from, read from a deep-link payload or QR scene: "src_<campaign>",
// "ref_<code>", "rep_<owner>" (a salesperson's own code: a campaign that also names the owner of
// the leads it brings), or anything else (kept as detail).
struct Attribution {
    std::string kind;  // "campaign" | "referral" | "" (none)
    std::string campaign;
    std::string referral_code;
    LeadId referrer;
    std::string detail;
    std::string owner;  // rep_<owner>
};

Attribution parse_attribution(std::string_view payload) {
    Attribution a;
    if (payload.empty()) return a;
    a.detail = truncate_utf8(payload, 255);
    if (payload.starts_with("src_") && payload.size() > 4) {
        a.kind = "campaign";
        a.campaign = truncate_utf8(payload.substr(4), 128);
    } else if (payload.starts_with("ref_") && payload.size() > 4) {
        if (auto id = parse_referral_code(payload.substr(4))) {
            a.kind = "referral";
            a.referral_code = std::string(payload.substr(4));
            a.referrer = *id;
        }
    } else {
        a.kind = "campaign";
        a.campaign = truncate_utf8(payload, 128);
        if (payload.starts_with("rep_") && payload.size() > 4) a.owner = truncate_utf8(payload.substr(4), 128);
    }
    return a;
}

struct LeadState {
    LeadId id;
    std::string display_name;
    std::string username;
    std::string language;
    bool unreachable = false;
    bool opted_out = false;
    bool is_new = false;
    std::string menu;  // the numbered menu last sent (encode_menu text)
    // Funnel and score state (for scoring and status moves).
    std::string stage;
    std::string status = "new";
    std::string lifecycle = "acquisition";
    std::int64_t score = 0;
    std::string grade = "cold";
    std::int64_t demographic = 0;
    double behavioral = 0;
    Timestamp score_at{};
    std::optional<Timestamp> grade_expires_at;
};

// What scoring sees of an event; nullopt for events scoring ignores.
std::optional<ScoreSignal> signal_of(const InboundEvent& e) {
    ScoreSignal s;
    s.at = e.occurred_at;
    s.in_group = e.chat.type != ChatType::kPrivate;
    switch (e.kind) {
        case InboundKind::kMessage:
            if (e.edited) return std::nullopt;
            s.kind = ScoreSignal::Kind::kMessage;
            s.text = e.text;
            return s;
        case InboundKind::kCommand:
            if (e.edited) return std::nullopt;
            s.kind = ScoreSignal::Kind::kCommand;
            s.command = e.command;
            return s;
        case InboundKind::kButtonPress:
            s.kind = ScoreSignal::Kind::kButtonPress;
            s.button_data = e.button_data;
            return s;
        case InboundKind::kLinkClicked:
            s.kind = ScoreSignal::Kind::kLinkClick;
            s.url = e.text;
            return s;
        case InboundKind::kMemberJoined:
            s.kind = ScoreSignal::Kind::kMemberJoined;
            return s;
        default:
            return std::nullopt;
    }
}

bool interaction(InboundKind k) {
    return k == InboundKind::kMessage || k == InboundKind::kCommand || k == InboundKind::kButtonPress ||
           k == InboundKind::kContactShared || k == InboundKind::kLinkClicked;
}

// The batch being planned: reads from the database overlaid with what the batch already did.
class Planner {
public:
    Planner(const TemplateCatalog& templates, const IngestProcessor::ChannelLookup& channels, Timestamp now, WriteTx& tx,
            IdPool& ids, const LeadService* leads)
        : templates_(templates), channels_(channels), now_(now), tx_(tx), ids_(ids), leads_(leads) {
        ws_.now = now;
    }

    std::vector<IngestResult> run(std::span<const InboundDelivery* const> batch) {
        load(batch);
        std::vector<IngestResult> results(batch.size());
        std::unordered_set<std::string> seen;
        for (std::size_t i = 0; i < batch.size(); ++i) {
            const InboundDelivery& d = *batch[i];
            passive_taken_ = false;
            if (!d.dedupe_key.empty()) {
                auto key = composite(d.channel_id, d.dedupe_key);
                if (processed_.contains(key) || !seen.insert(std::move(key)).second) {
                    results[i].status = IngestStatus::kDuplicate;
                    continue;
                }
                ws_.processed.push_back(InboundKey{d.channel_id, d.dedupe_key});
            }
            const ChannelInfo* channel = channels_ ? channels_(d.channel_id) : nullptr;
            replies_ = &results[i].replies;
            for (std::size_t e = 0; e < d.events.size(); ++e) handle(d, e, channel);
        }
        for (auto& [key, total] : rule_totals_) {
            if (total.dirty) {
                ws_.rule_totals.push_back(RuleTotalRow{LeadId{total.lead}, total.value.rule_id, total.value.total,
                                                       total.value.period_start, total.value.period_points});
            }
        }
        if (!ws_.empty()) {
            fold_new_lead_updates(ws_);  // ws_ is done with: lead_update_index_ goes stale
            tx_.apply(ws_);
        }
        merge_verified_contacts();
        return results;
    }

private:
    // Reads what the batch needs to know, in one go: processed ids, the senders' identities and,
    // for scoring caps, each known sender's totals of the rules its own events match.
    void load(std::span<const InboundDelivery* const> batch) {
        std::vector<InboundKey> inbound;
        std::vector<IdentityKey> identities;
        std::vector<RuleAsk> asks;
        std::unordered_map<std::string, std::size_t> position;  // of each sender in identities
        for (const auto* d : batch) {
            if (!d->dedupe_key.empty()) inbound.push_back(InboundKey{d->channel_id, d->dedupe_key});
            for (const auto& e : d->events) {
                if (e.user.external_id.empty()) continue;
                const auto [it, added] =
                    position.try_emplace(composite(d->channel_id, e.user.external_id), identities.size());
                if (added) identities.push_back(IdentityKey{d->channel_id, e.user.external_id});
                if (!leads_) continue;
                const auto signal = signal_of(e);
                if (!signal) continue;
                for (const auto& a : matched_rules(e, *signal)) asks.push_back(RuleAsk{it->second, a.rule_id});
            }
        }
        auto known = tx_.find_known(inbound, identities, asks);
        for (auto& k : known.processed) processed_.insert(composite(k.channel_id, k.inbound_id));
        for (auto& r : known.identities) {
            LeadState s;
            s.id = r.lead_id;
            s.display_name = std::move(r.display_name);
            s.username = std::move(r.username);
            s.language = std::move(r.language);
            s.unreachable = r.unreachable;
            s.opted_out = r.lead_opted_out;
            s.stage = std::move(r.stage);
            s.status = std::move(r.status);
            s.lifecycle = std::move(r.lifecycle);
            s.score = r.score;
            s.grade = std::move(r.grade);
            s.demographic = r.demographic_score;
            s.behavioral = r.behavioral_score;
            s.score_at = r.score_at;
            s.grade_expires_at = r.grade_expires_at;
            s.menu = std::move(r.menu);
            states_.emplace(composite(r.key.channel_id, r.key.external_user_id), std::move(s));
        }
        prefetch_rule_totals(known.asked, std::move(known.rule_totals));
    }

    LeadUpdate& lead_update(LeadId id) {
        auto [it, inserted] = lead_update_index_.try_emplace(id.value, ws_.lead_updates.size());
        if (inserted) {
            LeadUpdate u;
            u.id = id;
            u.at = now_;
            ws_.lead_updates.push_back(std::move(u));
        }
        return ws_.lead_updates[it->second];
    }

    IdentityUpdate& identity_update(const std::string& channel, const std::string& external_id) {
        auto [it, inserted] = identity_update_index_.try_emplace(composite(channel, external_id),
                                                                 ws_.identity_updates.size());
        if (inserted) {
            IdentityUpdate u;
            u.key = IdentityKey{channel, external_id};
            u.at = now_;
            ws_.identity_updates.push_back(std::move(u));
        }
        return ws_.identity_updates[it->second];
    }

    bool referrer_exists(LeadId id) {
        if (auto it = referrer_known_.find(id.value); it != referrer_known_.end()) return it->second;
        bool exists = new_lead_ids_.contains(id.value) || tx_.lead_exists(id);
        referrer_known_[id.value] = exists;
        return exists;
    }

    // The lead behind the event's subject, created on first sight.
    LeadState* resolve(const InboundDelivery& d, const InboundEvent& e, const Attribution& attribution) {
        if (e.user.external_id.empty() || e.user.is_bot) return nullptr;
        const std::string key = composite(d.channel_id, e.user.external_id);
        const std::string name = truncate_utf8(e.user.display_name, kNameMax);
        const std::string username = truncate_utf8(e.user.username, kNameMax);
        const std::string language = truncate_utf8(e.user.language, kLanguageMax);
        auto it = states_.find(key);
        if (it != states_.end()) {
            LeadState& s = it->second;
            // Keep profile fields fresh; an empty value from the platform does not erase a known one.
            const bool name_changed = !name.empty() && name != s.display_name;
            const bool user_changed = !username.empty() && username != s.username;
            const bool lang_changed = !language.empty() && language != s.language;
            if (name_changed || user_changed || lang_changed) {
                auto& iu = identity_update(d.channel_id, e.user.external_id);
                auto& lu = lead_update(s.id);
                if (name_changed) iu.display_name = lu.display_name = s.display_name = name;
                if (user_changed) iu.username = lu.username = s.username = username;
                if (lang_changed) iu.language = lu.language = s.language = language;
            }
            return &s;
        }
        LeadState s;
        s.id = ids_.take();
        s.display_name = name;
        s.username = username;
        s.language = language;
        s.is_new = true;
        new_lead_ids_.insert(s.id.value);

        LeadRow row;
        row.id = s.id;
        if (leads_) row.stage = leads_->funnel().first().id;
        s.stage = row.stage;
        row.display_name = name;
        row.username = username;
        row.language = language;
        row.referral_code = referral_code(s.id);
        row.source_channel = d.channel_id;
        row.created_at = now_;
        row.source_kind = "inbound";
        if (attribution.kind == "campaign") {
            row.source_kind = "campaign";
            row.source_campaign = attribution.campaign;
            row.source_detail = attribution.detail;
        } else if (attribution.kind == "referral" && attribution.referrer != s.id &&
                   referrer_exists(attribution.referrer)) {
            row.source_kind = "referral";
            row.referred_by = attribution.referrer;
            row.source_detail = attribution.detail;
            lead_update(attribution.referrer).referral_count_delta += 1;
            promote_advocate(attribution.referrer, d.channel_id, e.occurred_at);
            ws_.events.push_back(EventRow{attribution.referrer, d.channel_id, "referral_credited", "system",
                                          e.occurred_at,
                                          JsonWriter().field("referred_lead", s.id.value).finish()});
        }
        ws_.touches.push_back(TouchRow{s.id, d.channel_id, row.source_kind, row.source_campaign,
                                       row.referred_by ? attribution.referral_code : std::string{}, row.referred_by,
                                       row.source_detail, now_});
        ws_.events.push_back(EventRow{s.id, d.channel_id, "lead_created", "system", e.occurred_at,
                                      JsonWriter()
                                          .field("source", row.source_kind)
                                          .field_if("campaign", row.source_campaign)
                                          .field("channel", d.channel_id)
                                          .finish()});
        ws_.new_leads.push_back(std::move(row));
        ws_.new_identities.push_back(IdentityRow{IdentityKey{d.channel_id, e.user.external_id}, s.id, name, username,
                                                 language, now_});
        // The employee who added the contact (WeCom), else the salesperson whose code brought it.
        const std::string owner = truncate_utf8(e.owner_hint.empty() ? attribution.owner : e.owner_hint, 128);
        if (!owner.empty()) {
            lead_update(s.id).owner = owner;
            ws_.events.push_back(EventRow{s.id, d.channel_id, "owner_changed", "system", e.occurred_at,
                                          JsonWriter().field("from", "").field("to", owner).finish()});
        }
        return &states_.emplace(key, std::move(s)).first->second;
    }

    void reply(const InboundDelivery& d, std::size_t index, const InboundEvent& e, LeadState& lead,
               const std::string& key, const TemplateVars& vars, std::string_view what,
               const std::string& reply_token = {}) {
        if (e.chat.external_id.empty()) return;  // nowhere to answer
        const std::string locale = templates_.pick_locale(
            lead.language.empty() ? e.user.language : lead.language, default_locale(d));
        auto t = templates_.render(key, locale, vars);
        if (!t) return;
        const ChannelInfo* channel = channels_ ? channels_(d.channel_id) : nullptr;
        const bool private_chat = e.chat.type == ChatType::kPrivate;
        if (channel && channel->numbered_menus && private_chat && !t->buttons.empty()) {
            // Remember what "1".."N" will mean in this person's next message.
            const std::string menu = encode_menu(numbered_options(t->buttons));
            if (!menu.empty() && menu.size() <= kMenuMax && menu != lead.menu) {
                identity_update(d.channel_id, e.user.external_id).menu = menu;
                lead.menu = menu;
            }
        }
        OutboundMessage m;
        m.channel_id = d.channel_id;
        m.chat_id = e.chat.external_id;
        m.lead_id = lead.id;
        m.kind = OutboundKind::kText;
        m.text = std::move(t->text);
        m.parse_mode = std::move(t->parse_mode);
        m.buttons = std::move(t->buttons);
        m.is_group = e.chat.type != ChatType::kPrivate;
        m.reply_token = reply_token;
        m.idem_key = idem_key(d, index, what);
        if (channel && channel->passive_replies && private_chat && !passive_taken_) {
            m.passive = true;  // goes back in the webhook's answer
            passive_taken_ = true;
        }
        queue(std::move(m));
    }

    // An answer to staff (a WeCom employee): not a lead, no menus, never passive.
    void staff_reply(const InboundDelivery& d, std::size_t index, const InboundEvent& e, const std::string& key,
                     const TemplateVars& vars) {
        if (e.chat.external_id.empty()) return;
        auto t = templates_.render(key, templates_.pick_locale(e.user.language, default_locale(d)), vars);
        if (!t) return;
        OutboundMessage m;
        m.channel_id = d.channel_id;
        m.chat_id = e.chat.external_id;
        m.kind = OutboundKind::kText;
        m.text = std::move(t->text);
        m.idem_key = idem_key(d, index, "staff");
        queue(std::move(m));
    }

    // A rep command: "claim 123" makes the employee the owner of lead 123; anything else gets help.
    void handle_staff(const InboundDelivery& d, std::size_t index, const InboundEvent& e) {
        if (e.kind != InboundKind::kMessage || e.edited || e.owner_hint.empty()) return;
        const std::string staff = truncate_utf8(e.owner_hint, 128);
        TemplateVars vars{{"name", staff}};
        const auto claimed = parse_claim_command(e.text);
        if (!claimed) {
            staff_reply(d, index, e, "rep_help", vars);
            return;
        }
        vars.emplace_back("lead", std::to_string(*claimed));
        std::optional<LeadRecord> rec;
        if (*claimed > 0 && !new_lead_ids_.contains(*claimed)) rec = tx_.lead_for_update(LeadId{*claimed});
        if (!rec || rec->merged_into || rec->erased_at) {
            staff_reply(d, index, e, "rep_claim_unknown", vars);
            return;
        }
        if (rec->owner != staff) {
            lead_update(rec->id).owner = staff;
            ws_.events.push_back(EventRow{rec->id, d.channel_id, "owner_changed", "rep:" + staff, e.occurred_at,
                                          JsonWriter()
                                              .field("from", rec->owner)
                                              .field("to", staff)
                                              .field("via", "claim")
                                              .finish()});
        }
        vars.emplace_back("lead_name", rec->display_name);
        staff_reply(d, index, e, "rep_claimed", vars);
    }

    // On a numbered-menu channel, a private message that is just "1".."N" while a menu is
    // remembered presses that option; the menu is then forgotten.
    bool numbered_choice(const InboundDelivery& d, const InboundEvent& e, const ChannelInfo* channel,
                         InboundEvent& chosen) {
        if (!channel || !channel->numbered_menus || e.kind != InboundKind::kMessage || e.edited ||
            e.chat.type != ChatType::kPrivate || e.user.external_id.empty() || e.text.size() > 8) {
            return false;
        }
        auto it = states_.find(composite(d.channel_id, e.user.external_id));
        if (it == states_.end() || it->second.menu.empty()) return false;
        const std::string t = trim_lower(e.text);
        if (t.empty() || t.size() > 3 || !std::all_of(t.begin(), t.end(), [](char c) { return c >= '0' && c <= '9'; })) {
            return false;
        }
        const auto options = decode_menu(it->second.menu);
        const auto n = static_cast<std::size_t>(std::stoi(t));
        if (n < 1 || n > options.size() || options[n - 1].empty()) return false;
        chosen = e;
        chosen.kind = InboundKind::kButtonPress;
        chosen.button_data = options[n - 1];
        it->second.menu.clear();
        identity_update(d.channel_id, e.user.external_id).menu = std::string{};
        return true;
    }

    void answer_button(const InboundDelivery& d, std::size_t index, const InboundEvent& e, LeadState& lead,
                       const std::string& text) {
        OutboundMessage m;
        m.channel_id = d.channel_id;
        m.chat_id = e.chat.external_id;
        m.lead_id = lead.id;
        m.kind = OutboundKind::kCallbackAnswer;
        m.reply_token = e.reply_token;
        m.text = text;
        m.idem_key = idem_key(d, index, "ack");
        queue(std::move(m));
    }

    void queue(OutboundMessage m) {
        ws_.outbox.push_back(outbox_row_for(m, now_));
        replies_->push_back(std::move(m));
    }

    static std::string idem_key(const InboundDelivery& d, std::size_t index, std::string_view what) {
        std::string k = "in:";
        k += d.channel_id;
        k += ':';
        k += d.dedupe_key;
        k += ':';
        k += std::to_string(index);
        k += ':';
        k += what;
        return truncate_utf8(k, 191);
    }

    std::string default_locale(const InboundDelivery& d) const {
        const ChannelInfo* c = channels_ ? channels_(d.channel_id) : nullptr;
        return c ? c->default_locale : std::string("en");
    }

    void set_opted_out(LeadState& lead, bool value, const InboundDelivery& d, const InboundEvent& e) {
        if (lead.opted_out == value) return;
        lead.opted_out = value;
        lead_update(lead.id).opted_out = value;
        ws_.events.push_back(EventRow{lead.id, d.channel_id, value ? "opted_out" : "opted_in", "user", e.occurred_at,
                                      JsonWriter().field("via", e.kind == InboundKind::kCommand ? "command" : "text")
                                          .finish()});
    }

    void set_reachable(LeadState& lead, bool reachable, const InboundDelivery& d, const InboundEvent& e) {
        if (lead.unreachable == !reachable) return;
        lead.unreachable = !reachable;
        identity_update(d.channel_id, e.user.external_id).unreachable = !reachable;
    }

    void handle(const InboundDelivery& d, std::size_t index, const ChannelInfo* channel) {
        if (d.events[index].staff) {
            handle_staff(d, index, d.events[index]);
            return;
        }
        InboundEvent chosen;
        const InboundEvent& e = numbered_choice(d, d.events[index], channel, chosen) ? chosen : d.events[index];
        // An edited command is not a new command: it is recorded, never answered again.
        const bool command = e.kind == InboundKind::kCommand && !e.edited;
        const bool start = command && e.command == "start";
        const Attribution attribution =
            parse_attribution(start ? std::string_view(e.command_args) : std::string_view(e.scene));
        LeadState* lead = resolve(d, e, attribution);

        if (e.chat.type != ChatType::kPrivate && !e.chat.external_id.empty() &&
            (e.kind == InboundKind::kMemberJoined || e.kind == InboundKind::kMemberLeft ||
             e.kind == InboundKind::kBotAdded || e.kind == InboundKind::kBotRemoved)) {
            ChatRow c{d.channel_id, truncate_utf8(e.chat.external_id, 128), std::string(to_string(e.chat.type)),
                      truncate_utf8(e.chat.title, kNameMax), std::nullopt, now_};
            if (e.kind == InboundKind::kBotAdded) c.bot_member = true;
            if (e.kind == InboundKind::kBotRemoved) c.bot_member = false;
            ws_.chats.push_back(std::move(c));
        }
        if (!lead) return;

        // Later touches keep their attribution, even though the first touch is what the lead shows.
        // A lead opening its own referral link is no touch: nobody referred it.
        const bool own_code = attribution.kind == "referral" && attribution.referrer == lead->id;
        if (!lead->is_new && !attribution.kind.empty() && !own_code) {
            ws_.touches.push_back(TouchRow{lead->id, d.channel_id, attribution.kind, attribution.campaign,
                                           attribution.referral_code, attribution.referrer, attribution.detail, now_});
        }

        JsonWriter data;
        if (!e.text.empty()) data.field("text", truncate_utf8(e.text, kTextMax));
        data.field_if("command", e.command);
        data.field_if("args", truncate_utf8(e.command_args, 255));
        data.field_if("data", e.button_data);
        data.field_if("scene", e.scene);
        data.field_if("media", e.media_kind);
        data.field_if("message_id", e.message_id);
        if (e.edited) data.field("edited", true);
        if (!e.chat.external_id.empty()) {
            data.raw_field("chat", JsonWriter()
                                       .field("id", e.chat.external_id)
                                       .field("type", to_string(e.chat.type))
                                       .field_if("title", truncate_utf8(e.chat.title, kNameMax))
                                       .finish());
        }
        ws_.events.push_back(EventRow{lead->id, d.channel_id, std::string(to_string(e.kind)), "user", e.occurred_at,
                                      data.finish()});
        auto& lu = lead_update(lead->id);
        if (!lu.last_seen_at || *lu.last_seen_at < e.occurred_at) lu.last_seen_at = e.occurred_at;

        const TemplateVars vars{{"name", lead->display_name}};
        const bool private_chat = e.chat.type == ChatType::kPrivate;
        switch (e.kind) {
            case InboundKind::kCommand:
                if (!command) break;
                if (e.command == "start") {
                    set_reachable(*lead, true, d, e);
                    if (lead->opted_out) {
                        set_opted_out(*lead, false, d, e);
                        if (private_chat) reply(d, index, e, *lead, "resubscribed", vars, "resubscribed");
                    } else if (private_chat) {
                        reply(d, index, e, *lead, "welcome", vars, "welcome");
                    }
                } else if (e.command == "help") {
                    if (private_chat) reply(d, index, e, *lead, "help", vars, "help");
                } else if (e.command == "stop" || e.command == "unsubscribe") {
                    const bool was_out = lead->opted_out;
                    set_opted_out(*lead, true, d, e);
                    if (private_chat && !was_out) reply(d, index, e, *lead, "unsubscribed", vars, "unsubscribed");
                }
                break;
            case InboundKind::kMessage:
                if (private_chat && !e.edited && is_opt_out_text(e.text)) {
                    const bool was_out = lead->opted_out;
                    set_opted_out(*lead, true, d, e);
                    if (!was_out) reply(d, index, e, *lead, "unsubscribed", vars, "unsubscribed");
                }
                break;
            case InboundKind::kButtonPress: {
                if (!e.reply_token.empty()) answer_button(d, index, e, *lead, "");
                const std::string key = "button." + e.button_data;
                // Answered when some locale has the template (the same fallback as any reply).
                if (!e.button_data.empty() && templates_.lookup(key, templates_.pick_locale(lead->language, default_locale(d)))) {
                    reply(d, index, e, *lead, key, vars, "button");
                }
                break;
            }
            case InboundKind::kContactShared:
                // Only a person's own number counts as theirs; a forwarded card is just a message.
                if (!e.contact.phone.empty() && e.contact.user_id == e.user.external_id) {
                    auto& u = lead_update(lead->id);
                    u.phone = truncate_utf8(e.contact.phone, 64);
                    // The platform vouches for a person's own number: it is verified, and another
                    // lead with the same verified number is the same person.
                    u.phone_verified = true;
                    verified_contacts_.emplace_back(lead->id, *u.phone);
                }
                break;
            case InboundKind::kMemberJoined:
            case InboundKind::kMemberLeft:
                if (!e.chat.external_id.empty()) {
                    ws_.memberships.push_back(MembershipRow{d.channel_id, truncate_utf8(e.chat.external_id, 128),
                                                            lead->id, e.kind == InboundKind::kMemberJoined, now_});
                }
                break;
            case InboundKind::kUserBlockedBot:
            case InboundKind::kUnfollow:
                set_reachable(*lead, false, d, e);
                break;
            case InboundKind::kUserUnblockedBot:
                set_reachable(*lead, true, d, e);
                break;
            case InboundKind::kFollow: {
                // A new follower, or one coming back, is welcomed; a follower scanning another code
                // is not welcomed again. A scene may have its own message ("scene.src_expo").
                // A one-time reply token (WeCom's welcome code) carries one message: the scene's
                // if there is one, else the welcome.
                const bool arriving = lead->is_new || lead->unreachable;
                set_reachable(*lead, true, d, e);
                if (!private_chat) break;
                const std::string key = "scene." + e.scene;
                const bool scene_message =
                    !e.scene.empty() && templates_.lookup(key, templates_.pick_locale(lead->language, default_locale(d)));
                const bool one_shot = !e.reply_token.empty();
                if (arriving && !(one_shot && scene_message)) {
                    reply(d, index, e, *lead, "welcome", vars, "welcome", e.reply_token);
                }
                if (scene_message) reply(d, index, e, *lead, key, vars, "scene", e.reply_token);
                break;
            }
            case InboundKind::kBotAdded:
            case InboundKind::kBotRemoved:
            case InboundKind::kLinkClicked:
                break;
        }
        if (leads_) score(d, e, *lead);
    }

    // Status and score: the first interaction makes a new lead engaged; matching behavioural rules
    // award points (caps from the lead's rule totals) and may qualify it (mql, sql).
    void score(const InboundDelivery& d, const InboundEvent& e, LeadState& lead) {
        LeadRecord rec;
        rec.id = lead.id;
        rec.stage = lead.stage;
        rec.status = lead.status;
        rec.lifecycle = lead.lifecycle;
        rec.score = lead.score;
        rec.grade = lead.grade;
        rec.demographic_score = lead.demographic;
        rec.behavioral_score = lead.behavioral;
        rec.score_at = lead.score_at;
        rec.grade_expires_at = lead.grade_expires_at;
        bool touched = false;
        if (interaction(e.kind) && lead.status == "new") {
            leads_->advance_status(rec, "engaged", "first interaction", Actor{"user"}, d.channel_id, e.occurred_at, ws_,
                                   lead_update(lead.id));
            touched = true;
        }
        if (auto signal = signal_of(e)) {
            const auto& engine = leads_->scoring();
            const auto& matched = matched_rules(e, *signal);
            if (!matched.empty()) {
                std::vector<RuleTotal> totals;
                for (const auto& a : matched) totals.push_back(total_for(lead.id, a.rule_id));
                auto awards = engine.limit(matched, totals);
                for (const auto& t : totals) store_total(lead.id, t);
                if (!awards.empty()) {
                    const auto update =
                        leads_->rescore_with(lead.demographic, lead.behavioral, lead.score_at, awards, e.occurred_at);
                    leads_->record_score(rec, update, awards, Actor{"user"}, d.channel_id, ws_, lead_update(lead.id));
                    touched = true;
                }
            }
        }
        if (touched) {
            lead.status = rec.status;
            lead.lifecycle = rec.lifecycle;
            lead.score = rec.score;
            lead.grade = rec.grade;
            lead.demographic = rec.demographic_score;
            lead.behavioral = rec.behavioral_score;
            lead.score_at = rec.score_at;
            lead.grade_expires_at = rec.grade_expires_at;
        }
    }

    struct TotalState {
        std::int64_t lead = 0;
        RuleTotal value;
        bool dirty = false;
    };

    // Scoring caps need each known sender's totals of the rules its events match (`asked`): they
    // were read with the batch's identities (load), in the same round trip, instead of one query
    // per event. A pair without a row starts from zero.
    void prefetch_rule_totals(std::span<const std::pair<LeadId, std::string>> asked,
                              std::vector<std::pair<LeadId, RuleTotal>> found) {
        for (const auto& [lead, rule] : asked) {
            TotalState st;
            st.lead = lead.value;
            st.value.rule_id = rule;
            rule_totals_.emplace(composite(std::to_string(lead.value), rule), std::move(st));
        }
        for (auto& [lead, total] : found) {
            auto it = rule_totals_.find(composite(std::to_string(lead.value), total.rule_id));
            if (it != rule_totals_.end()) it->second.value = std::move(total);
        }
    }

    // Which rules the event would award before caps; evaluated once per event (the batch's
    // lookup and the scoring itself both ask).
    const std::vector<ScoreAward>& matched_rules(const InboundEvent& e, const ScoreSignal& signal) {
        auto [it, inserted] = matched_.try_emplace(&e);
        if (inserted) {
            std::vector<RuleTotal> probe;
            it->second = leads_->scoring().evaluate(signal, probe);
        }
        return it->second;
    }

    RuleTotal total_for(LeadId lead, const std::string& rule) {
        const auto key = composite(std::to_string(lead.value), rule);
        auto it = rule_totals_.find(key);
        if (it == rule_totals_.end()) {
            TotalState st;
            st.lead = lead.value;
            st.value.rule_id = rule;
            if (!new_lead_ids_.contains(lead.value)) {
                const std::string ids[] = {rule};
                auto found = tx_.rule_totals(lead, ids);
                if (!found.empty()) st.value = found.front();
            }
            it = rule_totals_.emplace(key, std::move(st)).first;
        }
        return it->second.value;
    }

    void store_total(LeadId lead, const RuleTotal& t) {
        auto& st = rule_totals_[composite(std::to_string(lead.value), t.rule_id)];
        st.lead = lead.value;
        if (st.value.total != t.total || st.value.period_points != t.period_points ||
            st.value.period_start != t.period_start) {
            st.value = t;
            st.dirty = true;
        }
    }

    // A customer who brings someone in becomes an advocate.
    void promote_advocate(LeadId referrer, const std::string& channel, Timestamp at) {
        if (!leads_ || new_lead_ids_.contains(referrer.value)) return;
        auto rec = tx_.lead_for_update(referrer);
        if (!rec || rec->status != "customer") return;
        leads_->advance_status(*rec, "advocate", "brought a referral", Actor{"system"}, channel, at, ws_,
                               lead_update(referrer));
    }

    // After the batch is written: leads that share a verified phone are one person; the older one
    // survives with everything.
    void merge_verified_contacts() {
        if (!leads_) return;
        for (const auto& [id, phone] : verified_contacts_) {
            for (auto other_id : tx_.leads_with_verified(phone, "", id)) {
                auto self = tx_.lead_for_update(id);
                auto other = tx_.lead_for_update(other_id);
                if (!self || !other || self->merged_into || other->merged_into) continue;
                const bool other_older =
                    other->created_at < self->created_at || (other->created_at == self->created_at && other->id < self->id);
                auto merge = leads_->plan_merge(other_older ? *self : *other, other_older ? *other : *self,
                                                Actor{"system"}, "same verified phone", now_);
                if (merge) tx_.apply(merge->writes);
            }
        }
    }

    const TemplateCatalog& templates_;
    const IngestProcessor::ChannelLookup& channels_;
    Timestamp now_;
    WriteTx& tx_;
    IdPool& ids_;
    WriteSet ws_;
    std::unordered_set<std::string> processed_;
    std::unordered_map<std::string, LeadState> states_;
    std::unordered_map<std::int64_t, std::size_t> lead_update_index_;
    std::unordered_map<std::string, std::size_t> identity_update_index_;
    std::unordered_set<std::int64_t> new_lead_ids_;
    std::unordered_map<std::int64_t, bool> referrer_known_;
    std::vector<OutboundMessage>* replies_ = nullptr;
    bool passive_taken_ = false;  // this delivery's passive reply is chosen
    const LeadService* leads_ = nullptr;
    std::unordered_map<std::string, TotalState> rule_totals_;
    std::unordered_map<const InboundEvent*, std::vector<ScoreAward>> matched_;  // see matched_rules
    std::vector<std::pair<LeadId, std::string>> verified_contacts_;
};

}  // namespace

std::int64_t IdPool::available() const {
    std::int64_t n = 0;
    for (const auto& r : ranges_) n += r.count;
    return n;
}

LeadId IdPool::take() {
    while (!ranges_.empty() && ranges_.front().count == 0) ranges_.erase(ranges_.begin());
    if (ranges_.empty()) throw std::logic_error("id pool is empty");
    auto& r = ranges_.front();
    const LeadId id{r.first};
    ++r.first;
    --r.count;
    return id;
}

std::optional<std::int64_t> parse_claim_command(std::string_view text) {
    if (text.size() > 64) return std::nullopt;
    std::string t = trim_lower(text);
    std::string_view v(t);
    if (v.starts_with("/")) v.remove_prefix(1);
    if (v.starts_with("claim")) {
        v.remove_prefix(5);
    } else if (v.starts_with("认领")) {
        v.remove_prefix(std::string_view("认领").size());
    } else {
        return std::nullopt;
    }
    while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
    if (v.starts_with("#")) v.remove_prefix(1);
    if (v.empty() || v.size() > 18) return std::nullopt;
    std::int64_t id = 0;
    for (char c : v) {
        if (c < '0' || c > '9') return std::nullopt;
        id = id * 10 + (c - '0');
    }
    if (id <= 0) return std::nullopt;
    return id;
}

OutboxRow outbox_row_for(const OutboundMessage& m, Timestamp now) {
    OutboxRow row;
    row.channel_id = m.channel_id;
    row.idem_key = m.idem_key;
    row.lead_id = m.lead_id;
    row.chat_id = m.chat_id;
    row.kind = std::string(to_string(m.kind));
    row.marketing = m.marketing;
    row.is_group = m.is_group;
    row.due_at = now;
    row.created_at = now;
    row.body = outbound_to_json(m);
    row.status = m.passive ? "sent" : "pending";
    return row;
}

std::vector<OutboxRow> requeue_late_passive(std::vector<OutboundMessage>& replies, Timestamp now) {
    std::vector<OutboxRow> rows;
    for (auto& m : replies) {
        if (!m.passive) continue;
        m.passive = false;
        OutboundMessage late = m;
        late.idem_key = truncate_utf8(m.idem_key, 186) + ":late";
        rows.push_back(outbox_row_for(late, now));
    }
    return rows;
}

bool is_opt_out_text(std::string_view text) {
    if (text.size() > 32) return false;
    const std::string t = trim_lower(text);
    return t == "stop" || t == "unsubscribe" || t == "退订" || t == "取消订阅";
}

IngestProcessor::IngestProcessor(const TemplateCatalog& templates, ChannelLookup channels, const Clock& clock,
                                 const LeadService* leads)
    : templates_(templates), channels_(std::move(channels)), clock_(clock), leads_(leads) {}

std::int64_t IngestProcessor::max_new_leads(std::span<const InboundDelivery* const> batch) {
    std::int64_t n = 0;
    for (const auto* d : batch) n += static_cast<std::int64_t>(d->events.size());
    return n;
}

std::vector<IngestResult> IngestProcessor::process(WriteTx& tx, std::span<const InboundDelivery* const> batch,
                                                   IdPool& ids) const {
    Planner planner(templates_, channels_, clock_.now(), tx, ids, leads_);
    return planner.run(batch);
}

std::vector<IngestResult> IngestProcessor::commit(Storage& storage, std::span<const InboundDelivery* const> batch,
                                                  IdPool& ids, std::int64_t id_block) const {
    const auto needed = max_new_leads(batch);
    if (ids.available() < needed) ids.add(storage.reserve_ids("lead", std::max(needed, id_block)));
    auto tx = storage.begin_write();
    auto results = process(*tx, batch, ids);
    tx->commit();
    return results;
}

}  // namespace leadhatch::core
