// Support overrides on the request path: a subject with an active override of the right scope
// is routed strong whatever its bucket; other subjects, other scopes and expired overrides
// change nothing; the snapshot JSON carries them to clients.
#include <memory>
#include <string>

#include "flags/flag_json.h"
#include "flags/snapshot.h"
#include "gtest/gtest.h"

namespace cmo::flags {
namespace {

Flag EventualFlag(std::string op, std::string domain) {
  Flag f;
  f.op = std::move(op);
  f.domain = domain;
  f.salt = std::move(domain);
  f.target.model = Model::kEventual;
  f.stage = Stage::kEventual;
  f.ramp_bp = 10'000;
  return f;
}

Override For(std::string subject, std::string op, std::string domain, absl::Duration left) {
  Override o;
  o.subject = std::move(subject);
  o.op = std::move(op);
  o.domain = std::move(domain);
  o.expires = absl::Now() + left;
  return o;
}

std::vector<Flag> ThreeOps() {
  return {EventualFlag("post.like", "likes"), EventualFlag("like.count", "likes"),
          EventualFlag("feed.read", "feeds")};
}

TEST(Override, SendsTheSubjectStrongForItsScopeOnly) {
  Snapshot s(1, ThreeOps(),
             {For("u-op", "post.like", "", absl::Hours(1)),
              For("u-domain", "", "likes", absl::Hours(1)), For("u-all", "", "", absl::Hours(1))});
  auto path = [&](const char* op, const char* subject) { return s.Route(op, subject).path; };
  EXPECT_EQ(path("post.like", "u-op"), Path::kStrong);
  EXPECT_TRUE(s.Route("post.like", "u-op").overridden);
  EXPECT_EQ(path("like.count", "u-op"), Path::kEventual);
  EXPECT_EQ(path("post.like", "u-domain"), Path::kStrong);
  EXPECT_EQ(path("like.count", "u-domain"), Path::kStrong);
  EXPECT_EQ(path("feed.read", "u-domain"), Path::kEventual);
  for (const char* op : {"post.like", "like.count", "feed.read"}) {
    EXPECT_EQ(path(op, "u-all"), Path::kStrong) << op;
    EXPECT_EQ(path(op, "someone-else"), Path::kEventual) << op;
    EXPECT_FALSE(s.Route(op, "someone-else").overridden);
  }
}

TEST(Override, AnExpiredOneChangesNothing) {
  Snapshot s(1, ThreeOps(), {For("u", "", "", -absl::Seconds(1))});
  EXPECT_EQ(s.Route("post.like", "u").path, Path::kEventual);
  EXPECT_EQ(s.OverrideFor(s.flags()[0], "u", absl::Now()), nullptr);
}

TEST(Override, TheEvaluatorAppliesThemToo) {
  FlagEvaluator ev(std::make_shared<const Snapshot>(1, ThreeOps()));
  OpMemo memo;
  EXPECT_EQ(ev.Decide("post.like", "u", memo).path, Path::kEventual);
  ev.Install(std::make_shared<const Snapshot>(
      2, ThreeOps(), std::vector<Override>{For("u", "", "", absl::Hours(1))}));
  EXPECT_EQ(ev.Decide("post.like", "u", memo).path, Path::kStrong);
  EXPECT_EQ(ev.Decide("post.like", "u").path, Path::kStrong);
  EXPECT_EQ(ev.Decide("post.like", "v", memo).path, Path::kEventual);
}

TEST(Override, SnapshotJsonCarriesThemToClients) {
  Override o = For("user-7", "", "likes", absl::Hours(2));
  o.reason = "ticket 123";  // stays in the control state
  o.actor = "support-1";
  Snapshot s(9, ThreeOps(), {o});
  const std::string text = EncodeSnapshot(s, absl::Now());
  EXPECT_EQ(text.find("ticket 123"), std::string::npos);
  EXPECT_EQ(text.find("support-1"), std::string::npos);
  auto decoded = DecodeSnapshot(text);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  ASSERT_EQ((*decoded)->overrides().size(), 1u);
  EXPECT_EQ((*decoded)->overrides()[0].subject, "user-7");
  EXPECT_EQ((*decoded)->overrides()[0].domain, "likes");
  EXPECT_EQ(absl::ToUnixMillis((*decoded)->overrides()[0].expires), absl::ToUnixMillis(o.expires));
  EXPECT_EQ((*decoded)->Route("like.count", "user-7").path, Path::kStrong);
  // A publisher that predates overrides sends none; a malformed one is refused whole.
  auto old = DecodeSnapshot(R"({"v":1,"revision":3,"flags":[]})");
  ASSERT_TRUE(old.ok());
  EXPECT_TRUE((*old)->overrides().empty());
  EXPECT_FALSE(
      DecodeSnapshot(R"({"v":1,"revision":3,"flags":[],"overrides":[{"subject":""}]})").ok());
  EXPECT_FALSE(DecodeSnapshot(R"({"v":1,"revision":3,"flags":[],"overrides":{}})").ok());
}

}  // namespace
}  // namespace cmo::flags
