// A fresh directory under /tmp for one test, removed with everything in it afterwards.
#ifndef CMO_TESTS_FAKES_TEMP_DIR_H_
#define CMO_TESTS_FAKES_TEMP_DIR_H_

#include <stdlib.h>

#include <filesystem>
#include <string>

#include "gtest/gtest.h"

namespace cmo::testing {

class TempDir {
 public:
  TempDir() {
    std::string tmpl = "/tmp/cmo_test_XXXXXX";
    if (mkdtemp(tmpl.data()) == nullptr) ADD_FAILURE() << "mkdtemp failed";
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string File(std::string_view name) const { return path_ + "/" + std::string(name); }

 private:
  std::string path_;
};

}  // namespace cmo::testing

#endif  // CMO_TESTS_FAKES_TEMP_DIR_H_
