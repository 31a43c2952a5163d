#include "base/clock.h"

namespace cmo::base {

Clock& SystemClock() {
  static RealClock* clock = new RealClock();  // never destroyed: usable during shutdown
  return *clock;
}

}  // namespace cmo::base
