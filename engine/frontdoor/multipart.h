// frontdoor/multipart.h — a small, strict multipart/form-data reader
// (RFC 7578 over RFC 2046) for document uploads from a browser form.
//
// Contract
// - Pure: no I/O, no allocation of the part bodies (they are views into the
//   request body, valid while it lives).
// - Strict, because every byte comes from outside: the body must open with
//   the first delimiter (no preamble), every part needs a Content-Disposition
//   of form-data with a name, names are unique, headers are bounded in size
//   and number and must be ASCII without control characters, the closing
//   delimiter must be there, and nothing but an optional CRLF may follow it.
//   Anything else is Error{"bad-multipart", sentence}; a part larger than
//   the limit is Error{"too-large", sentence}; more parts than the limit is
//   Error{"too-many-parts", sentence}. The sentence names the part by its
//   position (1-based), never its contents.
// - A part's file name is read so it can be checked and reported, never to
//   name a stored file.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "banshi/result.h"

namespace banshi::frontdoor {

struct MultipartPart {
  std::string name;          // the form field (Content-Disposition name)
  bool has_filename = false; // a file part (Content-Disposition filename present)
  std::string filename;      // as the client sent it; never used for storage
  std::string content_type;  // the part's Content-Type, lower case, without parameters; empty: none sent
  std::string_view body;     // the part's bytes, a view into the request body
};

struct MultipartLimits {
  size_t max_parts = 4;
  size_t max_part_bytes = 5 * 1024 * 1024;
  size_t max_header_bytes = 1024;  // all header lines of one part together
  size_t max_headers = 4;          // header lines per part
};

// The boundary of a Content-Type header value ("multipart/form-data;
// boundary=----x"): 1 to 70 characters of RFC 2046's bchars, quoted or not.
// Error{"bad-multipart"} when the type is another or the boundary is missing or bad.
Result<std::string> multipart_boundary(std::string_view content_type);

// Reads a multipart/form-data body with the given boundary.
Result<std::vector<MultipartPart>> parse_multipart(std::string_view body, std::string_view boundary,
                                                   const MultipartLimits& limits = {});

}  // namespace banshi::frontdoor
