// Child process for flag_store_crash_test: changes a flag in a loop, printing "R <revision>"
// after each commit. With `pause N`, the N-th change stops inside its transaction (after the
// flag row is written, before the audit entry and revision) and prints "M", then blocks on
// stdin until the parent kills it.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "base/clock.h"
#include "flags/flag_store.h"
#include "flags/transitions.h"

using cmo::flags::Flag;

int main(int argc, char** argv) {
  if (argc < 3) return 2;
  const std::string mode = argv[2];
  const int pause_at = argc > 3 ? std::atoi(argv[3]) : -1;
  auto store = cmo::flags::FlagStore::Open(argv[1], cmo::base::SystemClock());
  if (!store.ok()) return 1;
  cmo::flags::ChangeContext ctx{"crash-child", "crash test", "ramp", false};
  if (!(*store)->Get("post.like").ok()) {
    Flag f;
    f.op = "post.like";
    f.domain = "likes";
    f.target.model = cmo::flags::Model::kEventual;
    if (!(*store)->Add(f, ctx).ok()) return 1;
    for (int i = 0; i < 2; ++i) {
      if (!(*store)->Update("post.like", ctx, [](Flag& g) { return Advance(g, {}); }).ok()) {
        return 1;
      }
    }
  }
  int change = 0;
  (*store)->SetMidChangeHookForTest([&] {
    if (mode == "pause" && change == pause_at) {
      (void)!write(1, "M\n", 2);
      char c;
      (void)!read(0, &c, 1);  // parks here until killed
    }
  });
  for (;; ++change) {
    auto c = (*store)->Update(
        "post.like", ctx, [](Flag& g) { return cmo::flags::RampTo(g, (g.ramp_bp + 7) % 10001); });
    if (!c.ok()) return 1;
    std::printf("R %lld\n", static_cast<long long>(c->revision));
    std::fflush(stdout);
  }
}
