// Subject tiers on the request path: who is in a tier (list, context rule, heavy writers), what
// they get (the tier's model; strong before join_at), that everyone else routes exactly as
// without tiers, and that the snapshot JSON carries tiers to clients intact.
#include "flags/tier.h"

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "flags/flag_json.h"
#include "flags/heavy_hitters.h"
#include "flags/snapshot.h"
#include "gtest/gtest.h"
// After gtest.h, which it needs.
#include <rapidcheck/gtest.h>

namespace cmo::flags {
namespace {

Flag OpAt(std::string op, Stage stage, int32_t ramp_bp) {
  Flag f;
  f.op = std::move(op);
  f.domain = "feeds";
  f.salt = "feeds";
  f.target.model = Model::kEventual;
  f.stage = stage;
  f.ramp_bp = ramp_bp;
  f.shadow_bp = stage >= Stage::kShadow ? 500 : 0;
  return f;
}

Tier SuperUsers(Stage join_at = Stage::kEventual) {
  Tier t;
  t.plan = "social";
  t.name = "super_users";
  t.target = {Model::kBoundedStaleness, absl::Seconds(1)};
  t.join_at = join_at;
  t.ops = {"feed.read"};
  t.subjects = {"celebrity-1"};
  t.when = {"followers >= 100000", "regions_reached >= 3 and followers >= 10000"};
  t.top_k = 10;
  t.heavy = {"heavy-writer-9"};
  t.priority = true;
  return t;
}

std::vector<Attribute> Ctx(std::initializer_list<std::pair<const char*, const char*>> kv) {
  std::vector<Attribute> out;
  for (const auto& [k, v] : kv) out.push_back({k, v});
  return out;
}

TEST(TierRule, ParsesComparisonsJoinedByAnd) {
  absl::StatusOr<TierRule> r = ParseTierRule("followers >= 100000 and country == \"br\"");
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->all.size(), 2u);
  EXPECT_EQ(r->all[0].key, "followers");
  EXPECT_EQ(r->all[0].op, RuleOp::kGreaterEqual);
  EXPECT_EQ(r->all[0].number, 100000.0);
  EXPECT_EQ(r->all[1].value, "br");
  EXPECT_FALSE(r->all[1].number.has_value());
}

TEST(TierRule, RefusesWhatItCannotRead) {
  for (const char* bad : {"", "followers", "followers >=", ">= 3", "followers >= 3 or x == 1",
                          "country > \"br\"", "followers >= 3 and", "f ~ 3", "x == \"open"}) {
    absl::StatusOr<TierRule> r = ParseTierRule(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.status().message().find("a rule is"), std::string::npos) << bad;
  }
}

TEST(TierRule, MatchesOnlyWhatTheContextSays) {
  TierRule r = *ParseTierRule("followers >= 100000 and regions_reached > 2");
  EXPECT_TRUE(RuleMatches(r, Ctx({{"followers", "100000"}, {"regions_reached", "3"}})));
  EXPECT_FALSE(RuleMatches(r, Ctx({{"followers", "99999"}, {"regions_reached", "3"}})));
  EXPECT_FALSE(RuleMatches(r, Ctx({{"followers", "100000"}})));  // missing: not in the tier
  EXPECT_FALSE(RuleMatches(r, Ctx({{"followers", "many"}, {"regions_reached", "3"}})));
  EXPECT_FALSE(RuleMatches(r, {}));
  TierRule text = *ParseTierRule("plan != free");
  EXPECT_TRUE(RuleMatches(text, Ctx({{"plan", "pro"}})));
  EXPECT_FALSE(RuleMatches(text, Ctx({{"plan", "free"}})));
}

TEST(Tier, MembersGetTheTierModelOnceTheOpReachesJoinAt) {
  Snapshot s(
      1,
      {OpAt("feed.read", Stage::kEventual, 10'000), OpAt("like.count", Stage::kEventual, 10'000)},
      {}, {SuperUsers()});
  const auto fans = Ctx({{"followers", "250000"}});
  struct Case {
    const char* subject;
    std::vector<Attribute> context;
    TierVia via;
  };
  for (const Case& c : std::vector<Case>{{"celebrity-1", {}, TierVia::kList},
                                         {"heavy-writer-9", {}, TierVia::kTopK},
                                         {"user-7", fans, TierVia::kRule}}) {
    Decision d = s.Route("feed.read", c.subject, c.context);
    EXPECT_EQ(d.path, Path::kEventual) << c.subject;
    EXPECT_EQ(d.tier_via, c.via) << c.subject;
    ASSERT_NE(d.tier, nullptr);
    EXPECT_EQ(d.tier->name, "super_users");
    EXPECT_EQ(*d.target, (Target{Model::kBoundedStaleness, absl::Seconds(1)}));
    EXPECT_FALSE(d.held_by_tier);
    // An op that does not list the tier: the op's own model.
    Decision other = s.Route("like.count", c.subject, c.context);
    EXPECT_EQ(other.tier, nullptr);
    EXPECT_EQ(other.target->model, Model::kEventual);
  }
  Decision plain = s.Route("feed.read", "user-7");
  EXPECT_EQ(plain.tier, nullptr);
  EXPECT_EQ(plain.target->model, Model::kEventual);
}

TEST(Tier, MembersStayStrongBeforeJoinAt) {
  for (Stage join_at : {Stage::kRamp, Stage::kEventual}) {
    Snapshot s(1, {OpAt("feed.read", Stage::kRamp, 10'000)}, {}, {SuperUsers(join_at)});
    Decision d = s.Route("feed.read", "celebrity-1");
    ASSERT_NE(d.tier, nullptr);
    if (join_at == Stage::kRamp) {
      EXPECT_EQ(d.path, Path::kEventual);  // ramp 100%: everyone's bucket is inside
    } else {
      EXPECT_EQ(d.path, Path::kStrong);
      EXPECT_TRUE(d.held_by_tier);
    }
    EXPECT_EQ(s.Route("feed.read", "user-7").path, Path::kEventual);
  }
}

TEST(Tier, ASupportOverrideStillWins) {
  Override o;
  o.subject = "celebrity-1";
  o.expires = absl::Now() + absl::Hours(1);
  Snapshot s(1, {OpAt("feed.read", Stage::kEventual, 10'000)}, {o}, {SuperUsers()});
  Decision d = s.Route("feed.read", "celebrity-1");
  EXPECT_EQ(d.path, Path::kStrong);
  EXPECT_TRUE(d.overridden);
}

TEST(Tier, CountsWritersOnlyWhileATopKTierListsAnOp) {
  Tier no_top = SuperUsers();
  no_top.top_k = 0;
  no_top.heavy.clear();
  EXPECT_TRUE(Snapshot(1, {OpAt("feed.read", Stage::kEventual, 10'000)}, {}, {SuperUsers()})
                  .counts_writers());
  EXPECT_FALSE(
      Snapshot(1, {OpAt("feed.read", Stage::kEventual, 10'000)}, {}, {no_top}).counts_writers());
  EXPECT_FALSE(Snapshot(1, {OpAt("feed.read", Stage::kEventual, 10'000)}).counts_writers());
}

TEST(Tier, ValidationSaysWhatToFix) {
  Tier t = SuperUsers();
  t.subjects.clear();
  t.when.clear();
  t.top_k = 0;
  t.heavy.clear();
  EXPECT_NE(ValidateTier(t).message().find("no way to be in it"), std::string::npos);
  t = SuperUsers();
  t.when.push_back("followers >>= 3");
  EXPECT_FALSE(ValidateTier(t).ok());
  t = SuperUsers();
  t.join_at = Stage::kShadow;
  EXPECT_NE(ValidateTier(t).message().find("join_at"), std::string::npos);
  t = SuperUsers();
  t.top_k_window = absl::Seconds(5);
  EXPECT_NE(ValidateTier(t).message().find("window"), std::string::npos);
  t = SuperUsers();
  t.subjects.assign(kMaxTierSubjects + 1, "x");
  EXPECT_NE(ValidateTier(t).message().find("top_k for large sets"), std::string::npos);
}

TEST(Tier, TheSnapshotCarriesTiersToClients) {
  Snapshot s(7, {OpAt("feed.read", Stage::kEventual, 10'000)}, {}, {SuperUsers()});
  auto decoded = DecodeSnapshot(EncodeSnapshot(s, absl::Now()));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  ASSERT_EQ((*decoded)->tiers().size(), 1u);
  EXPECT_EQ((*decoded)->tiers()[0], SuperUsers());
  EXPECT_EQ((*decoded)->Route("feed.read", "heavy-writer-9").tier_via, TierVia::kTopK);
  // A snapshot with a malformed tier is refused whole, never half-applied.
  std::string text = EncodeSnapshot(s, absl::Now());
  const std::string good = "\"join_at\":\"eventual\"";
  text.replace(text.find(good), good.size(), "\"join_at\":\"strong\"");
  EXPECT_FALSE(DecodeSnapshot(text).ok());
  // A snapshot of a service that predates the priority channel: no priority field.
  text = EncodeSnapshot(s, absl::Now());
  const std::string priority = ",\"priority\":true";
  ASSERT_NE(text.find(priority), std::string::npos);
  text.erase(text.find(priority), priority.size());
  decoded = DecodeSnapshot(text);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_FALSE((*decoded)->tiers()[0].priority);
}

// Whatever the tiers, a subject in none of them routes exactly as without tiers, and a member
// is never sent eventual before the op reaches the tier's join_at.
RC_GTEST_PROP(TierProperty, NonMembersUnchangedMembersNeverEarly, ()) {
  const auto stage = *rc::gen::element(Stage::kStrong, Stage::kDualWrite, Stage::kShadow,
                                       Stage::kRamp, Stage::kEventual);
  const int32_t ramp = stage == Stage::kEventual ? 10'000
                       : stage == Stage::kRamp   ? *rc::gen::inRange(0, 10'001)
                                                 : 0;
  const Flag f = OpAt("feed.read", stage, ramp);
  Tier t = SuperUsers(*rc::gen::element(Stage::kRamp, Stage::kEventual));
  t.subjects = {"m-1", "m-2"};
  const int followers = *rc::gen::inRange(0, 200'000);
  const std::string followers_text = std::to_string(followers);
  const std::vector<Attribute> ctx = {{"followers", followers_text}};
  Snapshot with(1, {f}, {}, {t});
  Snapshot without(1, {f});
  const std::string subject = *rc::gen::element<std::string>("m-1", "user-1", "user-2", "u-x");
  Decision a = with.Route("feed.read", subject, ctx);
  Decision b = without.Route("feed.read", subject, ctx);
  const bool member = subject == "m-1" || followers >= 100000;
  RC_ASSERT((a.tier != nullptr) == member);
  if (!member) {
    RC_ASSERT(a.path == b.path);
    RC_ASSERT(a.bucket == b.bucket);
  } else if (stage < t.join_at) {
    RC_ASSERT(a.path == Path::kStrong);
  } else {
    RC_ASSERT(a.path == b.path);
  }
}

TEST(HeavyHitters, KeepsEveryItemHeavierThanTotalOverCapacity) {
  HeavyHitters h(8);
  // A skewed stream: item i written 2^(10-i) times, interleaved with 500 one-off writers.
  int64_t n = 0;
  for (int round = 0; round < 1024; ++round) {
    for (int i = 0; i < 6; ++i) {
      if (round % (1 << i) == 0) {
        h.Add("heavy-" + std::to_string(i));
        ++n;
      }
    }
    if (round < 500) {
      h.Add("once-" + std::to_string(round));
      ++n;
    }
  }
  EXPECT_EQ(h.total(), n);
  std::vector<HeavyHitters::Entry> top = h.Top(3);
  ASSERT_EQ(top.size(), 3u);
  EXPECT_EQ(top[0].item, "heavy-0");
  EXPECT_EQ(top[1].item, "heavy-1");
  EXPECT_EQ(top[2].item, "heavy-2");
  for (const HeavyHitters::Entry& e : h.Top(8)) {
    EXPECT_LE(e.error, n / 8);
    EXPECT_GE(e.count, e.error);
  }
}

// The Space-Saving guarantee on random streams: every item with true weight > N/m is kept,
// and no kept count is below the true weight or above it by more than N/m.
RC_GTEST_PROP(HeavyHittersProperty, SpaceSavingBounds, ()) {
  const int capacity = *rc::gen::inRange(1, 20);
  const auto stream = *rc::gen::container<std::vector<std::pair<int, int>>>(
      rc::gen::pair(rc::gen::inRange(0, 40), rc::gen::inRange(1, 5)));
  HeavyHitters h(capacity);
  std::map<std::string, int64_t> truth;
  int64_t n = 0;
  for (const auto& [item, weight] : stream) {
    const std::string name = "s" + std::to_string(item);
    h.Add(name, weight);
    truth[name] += weight;
    n += weight;
  }
  std::map<std::string, HeavyHitters::Entry> kept;
  for (const HeavyHitters::Entry& e : h.Top(capacity)) kept[e.item] = e;
  for (const auto& [name, w] : truth) {
    if (w * capacity > n) RC_ASSERT(kept.count(name) == 1u);
    if (auto it = kept.find(name); it != kept.end()) {
      RC_ASSERT(it->second.count >= w);
      RC_ASSERT(it->second.count - w <= n / capacity);
    }
  }
}

}  // namespace
}  // namespace cmo::flags

namespace cmo::flags {
namespace {

TEST(Amplifier, AWriteWhoseContextMatchesGetsTheWindow) {
  Flag write = OpAt("comment.create", Stage::kEventual, 10'000);
  Amplifier a{"social", "comment.create", "reach > 100000", absl::Seconds(30)};
  Snapshot s(3, {write, OpAt("comment.list", Stage::kEventual, 10'000)}, {}, {}, {a});
  const std::vector<Attribute> viral = {{"reach", "250000"}};
  const std::vector<Attribute> quiet = {{"reach", "12"}};
  EXPECT_EQ(s.Route("comment.create", "u-1", viral).amplify_for, absl::Seconds(30));
  EXPECT_EQ(s.Route("comment.create", "u-1", quiet).amplify_for, absl::ZeroDuration());
  EXPECT_EQ(s.Route("comment.create", "u-1").amplify_for, absl::ZeroDuration());
  EXPECT_EQ(s.Route("comment.list", "u-1", viral).amplify_for, absl::ZeroDuration());
  auto decoded = DecodeSnapshot(EncodeSnapshot(s, absl::Now()));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  ASSERT_EQ((*decoded)->amplifiers().size(), 1u);
  EXPECT_EQ((*decoded)->amplifiers()[0], a);
  EXPECT_EQ((*decoded)->Route("comment.create", "u-1", viral).amplify_for, absl::Seconds(30));
  Amplifier bad = a;
  bad.window = absl::Hours(1);
  EXPECT_NE(ValidateAmplifier(bad).message().find("window"), std::string::npos);
  bad = a;
  bad.when = "reach >";
  EXPECT_FALSE(ValidateAmplifier(bad).ok());
}

}  // namespace
}  // namespace cmo::flags
