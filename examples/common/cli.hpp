// SPDX-License-Identifier: Apache-2.0
// A small command-line reader shared by the examples: --name value pairs and --flag switches.
#pragma once

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
  long long integer(const std::string& key) const { return std::atoll(values_.at(key).c_str()); }
  double number(const std::string& key) const { return std::atof(values_.at(key).c_str()); }
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
