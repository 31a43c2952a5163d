// Runs the real `cmo` binary against a private state dir, as operators and scripts do.
#ifndef CMO_TESTS_FAKES_CMO_CLI_H_
#define CMO_TESTS_FAKES_CMO_CLI_H_

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/fakes/subprocess.h"
#include "tests/fakes/temp_dir.h"

namespace cmo::testing {

class CmoCli {
 public:
  const std::string& dir() const { return dir_.path(); }
  std::string StateDir() const { return dir_.File("state"); }

  RunResult Run(std::vector<std::string> args) const {
    args.insert(args.begin(), CMO_BINARY);
    return ::cmo::testing::Run(args, {"CMO_STATE_DIR=" + StateDir(), "CMO_ACTOR=alice"});
  }

  // Runs and expects exit 0; returns stdout.
  std::string Ok(std::vector<std::string> args) const {
    RunResult r = Run(args);
    EXPECT_EQ(r.exit_code, 0) << args[0] << ": " << r.err;
    return r.out;
  }

  nlohmann::json Json(std::vector<std::string> args) const {
    args.push_back("--output");
    args.push_back("json");
    const std::string out = Ok(args);
    return nlohmann::json::parse(out, nullptr, /*allow_exceptions=*/false);
  }

 private:
  TempDir dir_;
};

}  // namespace cmo::testing

#endif  // CMO_TESTS_FAKES_CMO_CLI_H_
