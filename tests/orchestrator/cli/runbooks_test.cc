// Every `cmo` command quoted in runbooks/ must parse: a runbook that tells an operator under
// pressure to type a command that no longer exists is a bug. Each is run twice: with --help
// (the command exists and documents itself) and with the hidden --check-args (the whole line
// parses: options, values and positionals), neither of which touches any state.
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/fakes/subprocess.h"

namespace cmo {
namespace {

// Splits a shell line into words, honouring double quotes (all our runbooks use).
std::vector<std::string> ShellWords(const std::string& line) {
  std::vector<std::string> words;
  std::string cur;
  bool quoted = false, any = false;
  for (char c : line) {
    if (c == '"') {
      quoted = !quoted;
      any = true;
    } else if (c == ' ' && !quoted) {
      if (any) words.push_back(cur);
      cur.clear();
      any = false;
    } else {
      cur.push_back(c);
      any = true;
    }
  }
  if (any) words.push_back(cur);
  return words;
}

::cmo::testing::RunResult ParseOnly(const std::string& line, const char* mode) {
  std::vector<std::string> args = ShellWords(line.substr(4));
  args.insert(args.begin(), CMO_BINARY);
  args.push_back(mode);
  return ::cmo::testing::Run(args, {"CMO_STATE_DIR=/nonexistent"});
}

TEST(Runbooks, CheckArgsRejectsWhatWouldNotRun) {
  EXPECT_EQ(ParseOnly("cmo rampp post.like --to 5 --reason r", "--check-args").exit_code, 2);
  EXPECT_EQ(ParseOnly("cmo ramp post.like --bogus --reason r", "--check-args").exit_code, 2);
  EXPECT_EQ(ParseOnly("cmo ramp post.like --reason r", "--check-args").exit_code, 2);
  EXPECT_EQ(ParseOnly("cmo ops", "--check-args").exit_code, 2);
  EXPECT_EQ(ParseOnly("cmo ramp post.like --to 5 --reason r", "--check-args").exit_code, 0);
}

TEST(Runbooks, EveryQuotedCommandParses) {
  int checked = 0;
  for (const auto& entry : std::filesystem::directory_iterator(CMO_SOURCE_DIR "/runbooks")) {
    if (entry.path().extension() != ".md") continue;
    std::ifstream in(entry.path());
    std::string line;
    bool in_block = false;
    int line_no = 0;
    while (std::getline(in, line)) {
      ++line_no;
      if (line.starts_with("```")) {
        in_block = !in_block && line == "```sh";
        continue;
      }
      if (!in_block || !line.starts_with("cmo ")) continue;
      for (const char* mode : {"--help", "--check-args"}) {
        const auto r = ParseOnly(line, mode);
        EXPECT_EQ(r.exit_code, 0) << entry.path().filename().string() << ":" << line_no << ": "
                                  << line << " " << mode << "\n"
                                  << r.err;
      }
      ++checked;
    }
  }
  EXPECT_GE(checked, 15);
}

}  // namespace
}  // namespace cmo
