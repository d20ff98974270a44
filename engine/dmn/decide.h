// dmn/decide.h — `banshi decide FILE.dmn DECISION --input JSON`: evaluate one
// decision of a file and print the result and the rules that matched.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>

namespace banshi::dmn {

struct DecideOptions {
  std::string file;
  std::string decision;   // id or name
  std::string input = "{}";  // a JSON object of input values
  bool json = false;      // print one JSON object {result, matched, errors} instead of text
  int64_t now_epoch_ms = 0;  // what now() and today() see
};

// Exit codes: 0 evaluated without errors, 1 the model is invalid or the
// decision reported errors, 2 a usage problem (no such file or decision, bad JSON).
int run_decide(const DecideOptions& options, std::FILE* out, std::FILE* err);

}  // namespace banshi::dmn
