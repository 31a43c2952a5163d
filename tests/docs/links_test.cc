// Every relative link in the project's Markdown (README, docs/, runbooks/, module READMEs)
// resolves to a file inside the repository: a clone must carry everything its docs point to
// (the README once linked ../shared/DESIGN.md, outside the repository).
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace cmo {
namespace {

namespace fs = std::filesystem;

std::vector<fs::path> MarkdownFiles(const fs::path& root) {
  std::vector<fs::path> out;
  for (auto it = fs::recursive_directory_iterator(root); it != fs::recursive_directory_iterator();
       ++it) {
    const std::string name = it->path().filename().string();
    if (it->is_directory() &&
        (name == "node_modules" || name == ".git" || name.rfind("build", 0) == 0)) {
      it.disable_recursion_pending();
      continue;
    }
    if (it->is_regular_file() && it->path().extension() == ".md") out.push_back(it->path());
  }
  return out;
}

TEST(DocsLinks, EveryRelativeLinkResolvesInsideTheRepository) {
  const fs::path root = fs::canonical(CMO_SOURCE_DIR);
  const std::regex link(R"(\]\(([^)\s]+)\))");
  int checked = 0;
  for (const fs::path& file : MarkdownFiles(root)) {
    std::ifstream in(file);
    std::stringstream text;
    text << in.rdbuf();
    const std::string s = text.str();
    for (auto m = std::sregex_iterator(s.begin(), s.end(), link); m != std::sregex_iterator();
         ++m) {
      std::string target = (*m)[1];
      if (target.rfind("http://", 0) == 0 || target.rfind("https://", 0) == 0 ||
          target.rfind("mailto:", 0) == 0 || target[0] == '#') {
        continue;
      }
      target = target.substr(0, target.find('#'));
      const fs::path resolved = fs::weakly_canonical(file.parent_path() / target);
      const std::string rel = fs::relative(resolved, root).string();
      EXPECT_FALSE(rel.rfind("..", 0) == 0)
          << file.lexically_relative(root) << ": link " << target << " leaves the repository";
      EXPECT_TRUE(fs::exists(resolved))
          << file.lexically_relative(root) << ": link " << target << " does not exist";
      ++checked;
    }
  }
  EXPECT_GT(checked, 20) << "the scan found the links";
}

}  // namespace
}  // namespace cmo
