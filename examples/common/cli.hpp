// SPDX-License-Identifier: Apache-2.0
// A small command-line reader shared by the examples: --name value pairs and --flag switches.
#pragma once

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>

namespace loom_examples {

class Args {
 public:
  Args(int argc, char** argv, std::map<std::string, std::string> defaults, const char* usage)
      : values_(std::move(defaults)), usage_(usage) {
    for (int i = 1; i < argc; ++i) {
      std::string key = argv[i];
      if (key == "--help" || key == "-h") fail();
      if (key.rfind("--", 0) != 0) fail("unexpected argument " + key);
      key = key.substr(2);
      if (!values_.count(key)) fail("unknown option --" + key);
      if (values_[key] == "false" || values_[key] == "true") {  // a switch
        values_[key] = "true";
        continue;
      }
      if (i + 1 >= argc) fail("--" + key + " needs a value");
      values_[key] = argv[++i];
    }
  }
  std::string str(const std::string& key) const { return values_.at(key); }
  /// The value as a whole number; a value that is not one (`--steps abc`, `--steps 1.5`) ends the program.
  long long integer(const std::string& key) const {
    const std::string& v = values_.at(key);
    char* end = nullptr;
    errno = 0;
    const long long n = std::strtoll(v.c_str(), &end, 10);
    if (v.empty() || *end != '\0' || errno == ERANGE) fail("--" + key + " must be a whole number; got '" + v + "'");
    return n;
  }
  /// The value as a finite number; anything else ends the program.
  double number(const std::string& key) const {
    const std::string& v = values_.at(key);
    char* end = nullptr;
    const double x = std::strtod(v.c_str(), &end);
    if (v.empty() || *end != '\0' || !std::isfinite(x)) fail("--" + key + " must be a number; got '" + v + "'");
    return x;
  }
  bool flag(const std::string& key) const { return values_.at(key) == "true"; }

 private:
  [[noreturn]] void fail(const std::string& why = "") const {
    if (!why.empty()) std::fprintf(stderr, "error: %s\n", why.c_str());
    std::fprintf(stderr, "%s\noptions (defaults):\n", usage_);
    for (const auto& [k, v] : values_) std::fprintf(stderr, "  --%s %s\n", k.c_str(), v.c_str());
    std::exit(why.empty() ? 0 : 2);
  }
  std::map<std::string, std::string> values_;
  const char* usage_;
};

}  // namespace loom_examples
