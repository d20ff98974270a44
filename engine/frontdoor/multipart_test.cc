// The multipart/form-data reader (multipart.h): what browsers send is read;
// every malformed or oversized form is refused with a sentence, never read
// half-way.
#include <string>

#include <gtest/gtest.h>

#include "frontdoor/multipart.h"

namespace banshi::frontdoor {
namespace {

const std::string kBoundary = "----WebKitFormBoundary7MA4YWxkTrZu0gW";

std::string form(const std::string& material, const std::string& filename, const std::string& type,
                 const std::string& bytes) {
  return "--" + kBoundary + "\r\n" +
         "Content-Disposition: form-data; name=\"material\"\r\n\r\n" + material + "\r\n" +
         "--" + kBoundary + "\r\n" +
         "Content-Disposition: form-data; name=\"file\"; filename=\"" + filename + "\"\r\n" +
         "Content-Type: " + type + "\r\n\r\n" + bytes + "\r\n" +
         "--" + kBoundary + "--\r\n";
}

Error refused(const std::string& body, const MultipartLimits& limits = {}) {
  auto r = parse_multipart(body, kBoundary, limits);
  EXPECT_FALSE(r.ok()) << body;
  return r.ok() ? Error{"", ""} : r.error();
}

TEST(Multipart, BoundaryFromTheContentType) {
  EXPECT_EQ(*multipart_boundary("multipart/form-data; boundary=" + kBoundary), kBoundary);
  EXPECT_EQ(*multipart_boundary("Multipart/Form-Data;boundary=\"a b:c\""), "a b:c");
  EXPECT_EQ(*multipart_boundary("multipart/form-data; charset=utf-8; boundary=xyz"), "xyz");
  EXPECT_FALSE(multipart_boundary("multipart/mixed; boundary=xyz").ok());
  EXPECT_FALSE(multipart_boundary("multipart/form-data").ok());
  EXPECT_FALSE(multipart_boundary("multipart/form-data; boundary=").ok());
  EXPECT_FALSE(multipart_boundary("multipart/form-data; boundary=\"ends in space \"").ok());
  EXPECT_FALSE(multipart_boundary("multipart/form-data; boundary=" + std::string(71, 'a')).ok());
  EXPECT_TRUE(multipart_boundary("multipart/form-data; boundary=" + std::string(70, 'a')).ok());
  EXPECT_FALSE(multipart_boundary("multipart/form-data; boundary=\"a<b\"").ok());
  EXPECT_FALSE(multipart_boundary("multipart/form-data; boundary=a; boundary=b").ok());
  EXPECT_FALSE(multipart_boundary("multipart/form-data; boundary=\"unclosed").ok());
  EXPECT_FALSE(multipart_boundary(std::string("multipart/form-data; boundary=a\0b", 33)).ok());
}

TEST(Multipart, ReadsWhatABrowserSends) {
  const std::string png("\x89PNG\r\n\x1a\n\0\0--\r\n-", 15);  // binary, with CRLF and dashes inside
  const std::string body = form("photos", "../../etc/passwd", "image/PNG; x=1", png);  // the parts view it
  auto parts = parse_multipart(body, kBoundary);
  ASSERT_TRUE(parts.ok()) << parts.error().message;
  ASSERT_EQ(parts->size(), 2u);
  EXPECT_EQ((*parts)[0].name, "material");
  EXPECT_FALSE((*parts)[0].has_filename);
  EXPECT_EQ((*parts)[0].body, "photos");
  EXPECT_EQ((*parts)[1].name, "file");
  EXPECT_TRUE((*parts)[1].has_filename);
  EXPECT_EQ((*parts)[1].filename, "../../etc/passwd");  // read, never used to name a file
  EXPECT_EQ((*parts)[1].content_type, "image/png");
  EXPECT_EQ((*parts)[1].body, png);
  // No CRLF after the closing delimiter, and an empty part, are fine too.
  std::string b = "--" + kBoundary + "\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n\r\n--" + kBoundary + "--";
  auto empty = parse_multipart(b, kBoundary);
  ASSERT_TRUE(empty.ok()) << empty.error().message;
  EXPECT_TRUE((*empty)[0].body.empty());
  // UTF-8 file names, as browsers send them.
  const std::string named = form("photos", "照片.png", "image/png", "x");
  auto chinese = parse_multipart(named, kBoundary);
  ASSERT_TRUE(chinese.ok());
  EXPECT_EQ((*chinese)[1].filename, "照片.png");
}

TEST(Multipart, BadBoundariesAreRefused) {
  const std::string good = form("photos", "p.png", "image/png", "x");
  EXPECT_EQ(refused("preamble\r\n" + good).code, "bad-multipart");
  EXPECT_FALSE(parse_multipart(good, "another-boundary").ok());
  EXPECT_FALSE(parse_multipart(good, "").ok());
  // The closing delimiter missing, or cut off.
  EXPECT_EQ(refused(good.substr(0, good.size() - 4)).code, "bad-multipart");
  EXPECT_EQ(refused(good.substr(0, good.find("--" + kBoundary + "--"))).code, "bad-multipart");
  // A delimiter followed by something else than CRLF or --.
  std::string glued = good;
  glued.replace(good.find(kBoundary) + kBoundary.size(), 2, "xx");
  EXPECT_EQ(refused(glued).code, "bad-multipart");
  // Anything after the close.
  EXPECT_EQ(refused(good + "epilogue").code, "bad-multipart");
  // Only the opening delimiter.
  EXPECT_EQ(refused("--" + kBoundary).code, "bad-multipart");
  EXPECT_EQ(refused("--" + kBoundary + "--").code, "bad-multipart");  // no part at all
  EXPECT_EQ(refused("").code, "bad-multipart");
}

TEST(Multipart, MissingOrBadHeadersAreRefused) {
  auto one = [](const std::string& headers) {
    return "--" + kBoundary + "\r\n" + headers + "\r\n\r\nbody\r\n--" + kBoundary + "--\r\n";
  };
  EXPECT_TRUE(parse_multipart(one("Content-Disposition: form-data; name=\"a\""), kBoundary).ok());
  EXPECT_EQ(refused(one("Content-Type: image/png")).message, "Part 1 has no Content-Disposition.");
  EXPECT_EQ(refused("--" + kBoundary + "\r\n\r\nbody\r\n--" + kBoundary + "--").code, "bad-multipart");
  EXPECT_EQ(refused(one("Content-Disposition: attachment; name=\"a\"")).code, "bad-multipart");
  EXPECT_EQ(refused(one("Content-Disposition: form-data")).code, "bad-multipart");
  EXPECT_EQ(refused(one("Content-Disposition: form-data; name=\"\"")).code, "bad-multipart");
  EXPECT_EQ(refused(one("Content-Disposition: form-data; name=\"a\"; name=\"b\"")).code, "bad-multipart");
  EXPECT_EQ(refused(one("Content-Disposition: form-data; name=\"a")).code, "bad-multipart");
  EXPECT_EQ(refused(one("Content-Disposition: form-data; name=\"a\"\r\nContent-Disposition: form-data; name=\"b\"")).code,
            "bad-multipart");
  EXPECT_EQ(refused(one("Content-Disposition: form-data; name=\"a\"\r\n folded")).code, "bad-multipart");
  EXPECT_EQ(refused(one("Content-Disposition: form-data; name=\"a\"\r\nno colon here")).code, "bad-multipart");
  EXPECT_EQ(refused(one("Content-Disposition: form-data; name=\"a\"\r\nContent-Type: png")).code, "bad-multipart");
  EXPECT_EQ(refused(one("Content-Disposition: form-data; name=\"a\"\r\nContent-Transfer-Encoding: base64")).code,
            "bad-multipart");
  EXPECT_EQ(refused(one(std::string("Content-Disposition: form-data; name=\"a\x01\""))).code, "bad-multipart");
  EXPECT_EQ(refused(one("Content-Disposition: form-data; name=\"a\"; filename=\"" + std::string(256, 'f') + "\"")).code,
            "bad-multipart");
  // Headers without their blank line, or too long, or too many.
  EXPECT_EQ(refused("--" + kBoundary + "\r\nContent-Disposition: form-data; name=\"a\"").code, "bad-multipart");
  EXPECT_EQ(refused(one("Content-Disposition: form-data; name=\"a\"\r\nX-Pad: " + std::string(2000, 'p'))).code,
            "bad-multipart");
  EXPECT_EQ(refused(one("Content-Disposition: form-data; name=\"a\"\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4")).code,
            "bad-multipart");
  // The same field twice.
  std::string twice = "--" + kBoundary + "\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\n1\r\n--" + kBoundary +
                      "\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\n2\r\n--" + kBoundary + "--";
  EXPECT_EQ(refused(twice).code, "bad-multipart");
}

TEST(Multipart, HugePartsAndTooManyPartsAreRefused) {
  MultipartLimits limits;
  limits.max_part_bytes = 1000;
  EXPECT_TRUE(parse_multipart(form("photos", "p.png", "image/png", std::string(1000, 'x')), kBoundary, limits).ok());
  EXPECT_EQ(refused(form("photos", "p.png", "image/png", std::string(1001, 'x')), limits).code, "too-large");
  // Huge and never closed: too large, not read to the end first.
  EXPECT_EQ(refused("--" + kBoundary + "\r\nContent-Disposition: form-data; name=\"f\"\r\n\r\n" + std::string(5000, 'x'),
                    limits).code,
            "too-large");
  std::string many;
  for (int i = 0; i < 5; ++i) {
    many += "--" + kBoundary + "\r\nContent-Disposition: form-data; name=\"f" + std::to_string(i) + "\"\r\n\r\nv\r\n";
  }
  many += "--" + kBoundary + "--";
  EXPECT_EQ(refused(many).code, "too-many-parts");
  limits.max_parts = 5;
  EXPECT_TRUE(parse_multipart(many, kBoundary, limits).ok());
}

}  // namespace
}  // namespace banshi::frontdoor
