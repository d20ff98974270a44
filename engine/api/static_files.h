// api/static_files.h — serves one folder (the web console) under "/".
//
// Contract
// - A path that names a regular file inside the root is served with a
//   content type from its extension. Any other path that is not an API path
//   gets the root's index.html (the console routes on the client side).
// - Refused with 400 problem+json, before the file system is touched: a ".."
//   or "." segment (also percent-encoded, e.g. %2e%2e), a backslash, a NUL,
//   an encoded "/", an absolute path ("//etc/passwd"), a malformed escape.
// - A file whose real path (symlinks resolved) leaves the root is a 404.
// - Paths under /api/ and the health endpoints are never answered from here.
//
// Threads: serve() is const and thread-safe. Files are read per request
// (the console is small); a file larger than max_file_bytes is a 404.
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>

#include "api/http_types.h"

namespace banshi::api {

class StaticFiles {
 public:
  // An empty root serves nothing: every request is a 404.
  explicit StaticFiles(std::filesystem::path root, size_t max_file_bytes = 64 * 1024 * 1024);

  Response serve(const Request& request) const;

  static std::string_view content_type_for(const std::filesystem::path& file);

 private:
  // Read whole for HEAD too: the session sends HEAD's headers with the
  // body's length and leaves the body out.
  Response file(const std::filesystem::path& path) const;

  std::filesystem::path root_;  // canonical, or empty
  size_t max_file_bytes_;
};

}  // namespace banshi::api
