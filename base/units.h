// Parsing of the quantities operators type: percentages ("10", "10%", "0.5%") and durations
// ("500ms", "2s", "10m", "1h"). Shared by the CLI, flags and plan files so they agree.
#ifndef CMO_BASE_UNITS_H_
#define CMO_BASE_UNITS_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace cmo::base {

// Basis points: 1% = 100 bp, 100% = 10000 bp. The resolution of ramps and sample rates.
inline constexpr int32_t kBasisPointsPerPercent = 100;
inline constexpr int32_t kMaxBasisPoints = 10000;

// "10", "10%", "0.5%", "0.25" -> basis points. At most two decimals (0.01% resolution);
// 0..100% inclusive. Errors are kInvalidArgument and say what a valid value looks like.
absl::StatusOr<int32_t> ParsePercentBp(std::string_view text);

// 1234 -> "12.34%", 100 -> "1%", 50 -> "0.5%" (shortest exact form).
std::string FormatBp(int32_t bp);

// "0.1%", "0.0025%", "1" (percent) -> parts per million (1% = 10000 ppm); at most four decimals.
absl::StatusOr<int64_t> ParsePercentPpm(std::string_view text);

// 1000 -> "0.1%", 25 -> "0.0025%".
std::string FormatPpm(int64_t ppm);

// "500ms", "2s", "1.5s", "10m", "1h", "1d" -> duration. A bare number is an error (units are
// mandatory: "10" could mean seconds or minutes).
absl::StatusOr<absl::Duration> ParseDuration(std::string_view text);

// Shortest exact form of a duration in the units ParseDuration accepts, e.g. "1500ms", "2s".
std::string FormatDuration(absl::Duration d);

// For people, not parsers: "19h30m", "1d2h", "45s", "1500ms".
std::string HumanDuration(absl::Duration d);

}  // namespace cmo::base

#endif  // CMO_BASE_UNITS_H_
