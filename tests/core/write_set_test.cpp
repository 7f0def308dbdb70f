// fold_new_lead_updates: a lead created and updated in one batch is written once.
#include <gtest/gtest.h>

#include <chrono>

#include "core/storage/rows.hpp"

namespace leadhatch::core {
namespace {

const Timestamp kCreated = from_epoch_ms(1'700'000'000'000);

LeadRow fresh(std::int64_t id) {
    LeadRow r;
    r.id = LeadId{id};
    r.created_at = kCreated;
    return r;
}

LeadUpdate scored(std::int64_t id, std::int64_t score, Timestamp at = kCreated) {
    LeadUpdate u;
    u.id = LeadId{id};
    u.at = at;
    u.status = "engaged";
    u.score = score;
    u.behavioral_score = static_cast<double>(score);
    u.score_at = at;
    u.grade = "warm";
    u.grade_expires_at = std::optional<Timestamp>(at + std::chrono::hours(72));
    u.owner = "alice";
    u.lifecycle = "development";
    return u;
}

TEST(FoldNewLeadUpdates, MovesTheScoreStatusAndOwnerOfANewLeadIntoItsRow) {
    WriteSet w;
    w.new_leads = {fresh(1)};
    auto u = scored(1, 12, kCreated + std::chrono::seconds(1));
    u.last_seen_at = kCreated - std::chrono::seconds(5);  // the message is older than the row
    w.lead_updates = {u};
    fold_new_lead_updates(w);
    EXPECT_TRUE(w.lead_updates.empty());
    const LeadRow& r = w.new_leads[0];
    EXPECT_EQ(r.status, "engaged");
    EXPECT_EQ(r.status_changed_at, std::optional<Timestamp>(u.at));
    EXPECT_EQ(r.score, 12);
    EXPECT_DOUBLE_EQ(r.behavioral_score, 12.0);
    EXPECT_EQ(r.score_at, u.at);
    EXPECT_EQ(r.grade, "warm");
    EXPECT_EQ(r.grade_expires_at, u.grade_expires_at.value());
    EXPECT_EQ(r.owner, "alice");
    EXPECT_EQ(r.lifecycle, "development");
    EXPECT_EQ(r.last_seen_at, std::optional<Timestamp>(kCreated));  // never earlier than the row
    EXPECT_EQ(r.updated_at, std::optional<Timestamp>(u.at));
}

TEST(FoldNewLeadUpdates, ActivityAloneDoesNotMoveUpdatedAt) {
    WriteSet w;
    w.new_leads = {fresh(1)};
    LeadUpdate seen;
    seen.id = LeadId{1};
    seen.at = kCreated;
    seen.last_seen_at = kCreated + std::chrono::seconds(3);
    w.lead_updates = {seen};
    fold_new_lead_updates(w);
    EXPECT_TRUE(w.lead_updates.empty());
    EXPECT_EQ(w.new_leads[0].last_seen_at, seen.last_seen_at);
    EXPECT_FALSE(w.new_leads[0].updated_at);
    EXPECT_EQ(w.new_leads[0].status, "new");
}

TEST(FoldNewLeadUpdates, LeavesExistingLeadsAndWhatARowCannotCarry_InOrder) {
    WriteSet w;
    w.new_leads = {fresh(1), fresh(2)};
    LeadUpdate renamed;  // a row carries no notes: this stays an update...
    renamed.id = LeadId{2};
    renamed.at = kCreated;
    renamed.notes = "vip";
    renamed.score = 3;
    w.lead_updates = {scored(7, 5), renamed, scored(2, 9), scored(1, 4)};
    fold_new_lead_updates(w);
    // ...and so does lead 2's later update, which must still apply after it.
    ASSERT_EQ(w.lead_updates.size(), 3u);
    EXPECT_EQ(w.lead_updates[0].id, LeadId{7});
    EXPECT_EQ(w.lead_updates[1].notes, std::optional<std::string>("vip"));
    EXPECT_EQ(w.lead_updates[2].id, LeadId{2});
    EXPECT_EQ(w.lead_updates[2].score, std::optional<std::int64_t>(9));
    EXPECT_EQ(w.new_leads[1].score, 0);
    EXPECT_EQ(w.new_leads[1].status, "new");
    EXPECT_EQ(w.new_leads[0].score, 4);
}

TEST(FoldNewLeadUpdates, AppliesSeveralUpdatesOfOneNewLeadInOrder) {
    WriteSet w;
    w.new_leads = {fresh(1)};
    auto later = scored(1, 20, kCreated + std::chrono::seconds(2));
    later.status.reset();
    w.lead_updates = {scored(1, 10, kCreated + std::chrono::seconds(1)), later};
    fold_new_lead_updates(w);
    EXPECT_TRUE(w.lead_updates.empty());
    EXPECT_EQ(w.new_leads[0].score, 20);
    EXPECT_EQ(w.new_leads[0].status_changed_at, std::optional<Timestamp>(kCreated + std::chrono::seconds(1)));
    EXPECT_EQ(w.new_leads[0].updated_at, std::optional<Timestamp>(kCreated + std::chrono::seconds(2)));
}

}  // namespace
}  // namespace leadhatch::core
