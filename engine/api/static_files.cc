#include "api/static_files.h"

#include <algorithm>
#include <fstream>
#include <map>

#include "api/problem.h"

namespace banshi::api {

namespace fs = std::filesystem;

StaticFiles::StaticFiles(fs::path root, size_t max_file_bytes) : max_file_bytes_(max_file_bytes) {
  std::error_code ec;
  if (!root.empty()) {
    fs::path canonical = fs::canonical(root, ec);
    if (!ec && fs::is_directory(canonical, ec)) root_ = canonical;
  }
}

std::string_view StaticFiles::content_type_for(const fs::path& file) {
  static const std::map<std::string, std::string_view> kTypes = {
      {".html", "text/html; charset=utf-8"},  {".htm", "text/html; charset=utf-8"},
      {".js", "text/javascript; charset=utf-8"}, {".mjs", "text/javascript; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},    {".json", "application/json"},
      {".map", "application/json"},           {".svg", "image/svg+xml"},
      {".png", "image/png"},                  {".jpg", "image/jpeg"},
      {".jpeg", "image/jpeg"},                {".gif", "image/gif"},
      {".ico", "image/x-icon"},               {".webp", "image/webp"},
      {".woff", "font/woff"},                 {".woff2", "font/woff2"},
      {".txt", "text/plain; charset=utf-8"},  {".yaml", "application/yaml"},
      {".xml", "application/xml"},            {".bpmn", "application/xml"},
      {".wasm", "application/wasm"},
  };
  std::string ext = file.extension().string();
  for (char& c : ext) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  auto it = kTypes.find(ext);
  return it == kTypes.end() ? std::string_view("application/octet-stream") : it->second;
}

Response StaticFiles::file(const fs::path& path) const {
  std::error_code ec;
  auto size = fs::file_size(path, ec);
  if (ec || size > max_file_bytes_) return problem(ProblemKind::kNotFound, "There is no such file.");
  std::ifstream in(path, std::ios::binary);
  if (!in) return problem(ProblemKind::kNotFound, "There is no such file.");
  Response r;
  r.content_type = std::string(content_type_for(path));
  r.body.resize(size);
  in.read(r.body.data(), static_cast<std::streamsize>(size));
  r.body.resize(static_cast<size_t>(in.gcount()));
  r.headers.emplace_back("X-Content-Type-Options", "nosniff");
  return r;
}

Response StaticFiles::serve(const Request& request) const {
  const std::string& raw = request.path;
  if (raw.rfind("/api/", 0) == 0 || raw == "/api") {
    return problem(ProblemKind::kNotFound, "There is no resource at this path.");
  }
  if (raw.empty() || raw.front() != '/') return problem(ProblemKind::kBadRequest, "The path must start with '/'.");
  // Decode segment by segment so an encoded '/' cannot smuggle a separator.
  fs::path relative;
  std::string_view rest = std::string_view(raw).substr(1);
  if (!rest.empty() && rest.front() == '/') {
    return problem(ProblemKind::kBadRequest, "Absolute paths are not allowed.", "path");
  }
  while (!rest.empty()) {
    size_t slash = rest.find('/');
    std::string_view seg = rest.substr(0, slash);
    rest = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash + 1);
    std::string decoded;
    if (!percent_decode(seg, decoded, false)) {
      return problem(ProblemKind::kBadRequest, "The path has a malformed percent escape.", "path");
    }
    if (decoded == ".." || decoded == "." ||
        decoded.find_first_of(std::string_view("/\\\0:", 4)) != std::string::npos) {
      return problem(ProblemKind::kBadRequest, "The path is not allowed.", "path");
    }
    if (decoded.empty()) continue;
    relative /= decoded;
  }
  if (root_.empty()) return problem(ProblemKind::kNotFound, "There is no resource at this path.");
  std::error_code ec;
  fs::path candidate = relative.empty() ? root_ / "index.html" : root_ / relative;
  if (fs::is_directory(candidate, ec)) candidate /= "index.html";
  if (fs::exists(candidate, ec)) {
    fs::path real = fs::canonical(candidate, ec);
    if (ec) return problem(ProblemKind::kNotFound, "There is no such file.");
    auto [root_end, ignored] = std::mismatch(root_.begin(), root_.end(), real.begin(), real.end());
    (void)ignored;
    if (root_end != root_.end()) return problem(ProblemKind::kNotFound, "There is no such file.");
    if (fs::is_regular_file(real, ec)) return file(real);
    return problem(ProblemKind::kNotFound, "There is no such file.");
  }
  // An unknown path: the console's own router decides, so send index.html.
  fs::path index = root_ / "index.html";
  if (fs::is_regular_file(index, ec)) {
    Response r = file(index);
    r.headers.emplace_back("Cache-Control", "no-cache");
    return r;
  }
  return problem(ProblemKind::kNotFound, "There is no resource at this path.");
}

}  // namespace banshi::api
