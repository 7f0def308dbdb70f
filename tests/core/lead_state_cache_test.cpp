// The write transactions' cache of lead state (core/storage/lead_state_cache.hpp): it mirrors a
// WriteSet the way the storage applies it, and forgets what it cannot mirror.
#include <gtest/gtest.h>

#include "core/storage/lead_state_cache.hpp"

namespace leadhatch::core {
namespace {

const Timestamp kT0 = from_epoch_ms(1'700'000'000'000);

IdentityRecord record(std::int64_t lead, const std::string& user) {
    IdentityRecord r;
    r.key = {"tg", user};
    r.lead_id = LeadId{lead};
    r.display_name = "Name " + user;
    r.username = "user_" + user;
    r.language = "en";
    r.stage = "identified";
    r.status = "new";
    r.lifecycle = "acquisition";
    r.score = 10;
    r.grade = "cold";
    r.demographic_score = 4;
    r.behavioral_score = 6;
    r.score_at = kT0;
    return r;
}

TEST(LeadStateCache, KnowsOnlyWhatItWasGiven) {
    LeadStateCache cache;
    EXPECT_FALSE(cache.identity({"tg", "1"}));
    cache.remember(record(1, "1"));
    const auto hit = cache.identity({"tg", "1"});
    ASSERT_TRUE(hit);
    EXPECT_EQ(hit->lead_id, LeadId{1});
    EXPECT_EQ(hit->display_name, "Name 1");
    EXPECT_EQ(hit->score, 10);
    EXPECT_EQ(hit->behavioral_score, 6);
    EXPECT_FALSE(cache.identity({"tg", "2"}));
    EXPECT_FALSE(cache.identity({"wx", "1"}));  // another channel's user 1
}

TEST(LeadStateCache, MirrorsUpdates_SetFieldsOnly_PlainBeforeExtended) {
    LeadStateCache cache;
    cache.remember(record(1, "1"));
    cache.remember(record(1, "1b"));  // a second identity of the same lead
    WriteSet w;
    LeadUpdate scored;  // extended: written after the plain update below, as the storage does
    scored.id = LeadId{1};
    scored.score = 55;
    scored.grade = "warm";
    scored.behavioral_score = 51.5;
    scored.score_at = kT0 + std::chrono::minutes(3);
    scored.grade_expires_at = std::optional<Timestamp>(kT0 + std::chrono::hours(2));
    scored.opted_out = true;
    w.lead_updates.push_back(scored);
    LeadUpdate plain;
    plain.id = LeadId{1};
    plain.opted_out = false;
    plain.display_name = "lead-level name, not the identity's";
    w.lead_updates.push_back(plain);
    IdentityUpdate renamed;
    renamed.key = {"tg", "1"};
    renamed.username = "new_name";
    renamed.menu = "";
    renamed.unreachable = true;
    w.identity_updates.push_back(renamed);
    cache.apply(w);

    const auto a = cache.identity({"tg", "1"});
    ASSERT_TRUE(a);
    EXPECT_EQ(a->score, 55);
    EXPECT_EQ(a->grade, "warm");
    EXPECT_EQ(a->behavioral_score, 51.5);
    EXPECT_EQ(a->score_at, kT0 + std::chrono::minutes(3));
    EXPECT_EQ(a->grade_expires_at, kT0 + std::chrono::hours(2));
    EXPECT_TRUE(a->lead_opted_out);  // the extended update came last
    EXPECT_EQ(a->demographic_score, 4);  // unset: kept
    EXPECT_EQ(a->stage, "identified");
    EXPECT_EQ(a->username, "new_name");
    EXPECT_EQ(a->display_name, "Name 1");
    EXPECT_TRUE(a->unreachable);
    const auto b = cache.identity({"tg", "1b"});
    ASSERT_TRUE(b);
    EXPECT_EQ(b->score, 55);  // the lead's state is shared by its identities
    EXPECT_FALSE(b->unreachable);
    EXPECT_EQ(b->username, "user_1b");

    WriteSet cleared;
    LeadUpdate no_expiry;
    no_expiry.id = LeadId{1};
    no_expiry.grade_expires_at = std::optional<Timestamp>();
    cleared.lead_updates.push_back(no_expiry);
    cache.apply(cleared);
    EXPECT_FALSE(cache.identity({"tg", "1"})->grade_expires_at);
}

TEST(LeadStateCache, RuleTotals_KnownAbsent_ThenWritten) {
    LeadStateCache cache;
    cache.remember(record(1, "1"));
    EXPECT_FALSE(cache.total(LeadId{1}, "pricing"));
    cache.remember_total(LeadId{1}, "pricing", std::nullopt);
    const auto absent = cache.total(LeadId{1}, "pricing");
    ASSERT_TRUE(absent);
    EXPECT_FALSE(*absent);
    WriteSet w;
    w.rule_totals = {{LeadId{1}, "pricing", 20, kT0, 20}, {LeadId{1}, "demo", 5, kT0, 5}, {LeadId{9}, "pricing", 1, kT0, 1}};
    cache.apply(w);
    const auto written = cache.total(LeadId{1}, "pricing");
    ASSERT_TRUE(written && *written);
    EXPECT_EQ((*written)->total, 20);
    EXPECT_EQ((*written)->period_start, kT0);
    ASSERT_TRUE(cache.total(LeadId{1}, "demo"));
    EXPECT_EQ((*cache.total(LeadId{1}, "demo"))->total, 5);
    EXPECT_FALSE(cache.total(LeadId{9}, "pricing"));  // a lead it never read: not cached
}

TEST(LeadStateCache, ForgetsWhatItCannotMirror) {
    const auto filled = [] {
        LeadStateCache c;
        c.remember(record(1, "1"));
        c.remember(record(2, "2"));
        c.remember_total(LeadId{1}, "pricing", RuleTotal{"pricing", 3, kT0, 3});
        return c;
    };
    {
        auto c = filled();
        WriteSet w;
        w.merges.push_back(MergeRow{LeadId{2}, LeadId{1}, "admin", "same person", "{}", kT0});
        c.apply(w);
        EXPECT_EQ(c.identities(), 0u);
        EXPECT_FALSE(c.identity({"tg", "1"}));
        EXPECT_FALSE(c.total(LeadId{1}, "pricing"));
    }
    {
        auto c = filled();
        WriteSet w;
        w.erasures.push_back(EraseRow{});
        c.apply(w);
        EXPECT_FALSE(c.identity({"tg", "2"}));
    }
    {
        auto c = filled();
        WriteSet w;
        LeadUpdate u;
        u.id = LeadId{2};
        u.merged_into = LeadId{1};
        w.lead_updates.push_back(u);
        c.apply(w);
        EXPECT_FALSE(c.identity({"tg", "1"}));
    }
}

TEST(LeadStateCache, KnowsTheRowsItCreates_AsTheSchemaMakesThem) {
    LeadStateCache cache;
    cache.remember(record(1, "1"));
    cache.remember_total(LeadId{1}, "pricing", RuleTotal{"pricing", 3, kT0, 3});
    WriteSet w;
    LeadRow l;
    l.id = LeadId{7};
    l.stage = "opportunity";
    l.score = 5;
    l.grade = "cold";
    l.behavioral_score = 5;
    l.score_at = kT0;
    w.new_leads.push_back(l);
    w.new_identities.push_back(IdentityRow{{"tg", "7"}, LeadId{7}, "Neo", "neo", "zh-CN", kT0});
    w.new_identities.push_back(IdentityRow{{"wx", "o9"}, LeadId{9}, "", "", "", kT0});  // a lead it never read
    w.rule_totals = {{LeadId{7}, "pricing", 5, kT0, 5}};
    cache.apply(w);
    const auto n = cache.identity({"tg", "7"});
    ASSERT_TRUE(n);
    EXPECT_EQ(n->lead_id, LeadId{7});
    EXPECT_EQ(n->display_name, "Neo");
    EXPECT_EQ(n->language, "zh-CN");
    EXPECT_FALSE(n->unreachable);
    EXPECT_FALSE(n->lead_opted_out);
    EXPECT_EQ(n->menu, "");
    EXPECT_EQ(n->status, "new");
    EXPECT_EQ(n->lifecycle, "acquisition");
    EXPECT_EQ(n->score, 5);
    EXPECT_EQ((*cache.total(LeadId{7}, "pricing"))->total, 5);
    EXPECT_FALSE(cache.total(LeadId{7}, "demo"));  // not known: read when asked
    EXPECT_FALSE(cache.identity({"wx", "o9"}));    // its lead's state is not known
    EXPECT_TRUE(cache.identity({"tg", "1"}));
}

TEST(LeadStateCache, StaysWithinItsBound) {
    LeadStateCache cache(2);
    cache.remember(record(1, "1"));
    cache.remember(record(2, "2"));
    EXPECT_EQ(cache.identities(), 2u);
    cache.remember(record(3, "3"));  // full: starts over
    EXPECT_EQ(cache.identities(), 1u);
    EXPECT_FALSE(cache.identity({"tg", "1"}));
    EXPECT_TRUE(cache.identity({"tg", "3"}));
}

}  // namespace
}  // namespace leadhatch::core
