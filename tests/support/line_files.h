// tests/support/line_files.h — the line files the reliability suites keep
// beside the processes they kill (tests/chaos, tests/cluster).
//
// A worker appends one line per write(), fsynced when the line records an
// effect, so a SIGKILL can drop a line not yet written but never tear one;
// the checker reads the files back as whitespace-separated fields.
// Header-only; for test programs.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace banshi::testing {

// Opens `path` for appending (created if missing); exits 10 when it cannot.
inline int open_line_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    std::fprintf(stderr, "cannot open %s: %s\n", path.c_str(), std::strerror(errno));
    std::exit(10);
  }
  return fd;
}

// Appends `line` and a newline in one write(), then fsyncs when `sync`;
// exits 11 on a short write and 12 when fsync fails.
inline void append_line(int fd, const std::string& line, bool sync) {
  std::string s = line + "\n";
  if (::write(fd, s.data(), s.size()) != static_cast<ssize_t>(s.size())) {
    std::fprintf(stderr, "short write to a log: %s\n", std::strerror(errno));
    std::exit(11);
  }
  if (sync && ::fsync(fd) != 0) {
    std::fprintf(stderr, "fsync failed: %s\n", std::strerror(errno));
    std::exit(12);
  }
}

// Every non-empty line of `path` as its whitespace-separated fields.
inline std::vector<std::vector<std::string>> read_fields(const std::string& path) {
  std::vector<std::vector<std::string>> out;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream s(line);
    std::vector<std::string> fields;
    std::string f;
    while (s >> f) fields.push_back(f);
    if (!fields.empty()) out.push_back(std::move(fields));
  }
  return out;
}

// FNV-1a: a fixed hash, so a key's planned failures are the same in every run.
inline uint64_t fnv1a(const std::string& s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

}  // namespace banshi::testing
