#include "demo/synthetic.h"

#include <set>

#include <gtest/gtest.h>

namespace banshi::demo {
namespace {

TEST(IdNumber, CheckDigitFollowsIso7064Mod11_2) {
  // The example number of the national standard GB 11643.
  EXPECT_EQ(id_check_digit("11010519491231002"), 'X');
  EXPECT_TRUE(id_number_valid("11010519491231002X"));
  EXPECT_FALSE(id_number_valid("110105194912310021"));
  EXPECT_FALSE(id_number_valid("11010519491231002"));
  EXPECT_FALSE(id_number_valid("1101051949123100AX"));
}

TEST(Generator, ApplicantsAreValidAndRepeatable) {
  ApplicantGenerator a(7), b(7), c(8);
  std::set<std::string> regions;
  for (const Region& r : demo_regions()) regions.insert(std::string(r.code));
  bool differs = false;
  for (int i = 0; i < 500; ++i) {
    Applicant x = a.next();
    Applicant y = b.next();
    Applicant z = c.next();
    EXPECT_EQ(x.id_number, y.id_number);
    EXPECT_EQ(x.name, y.name);
    differs |= x.id_number != z.id_number;
    EXPECT_TRUE(id_number_valid(x.id_number)) << x.id_number;
    EXPECT_EQ(x.id_number.substr(0, 6), x.region);
    EXPECT_TRUE(regions.count(x.region)) << x.region;
    EXPECT_EQ(x.phone.size(), 11u);
    EXPECT_FALSE(x.category.empty());
    EXPECT_FALSE(x.level.empty());
  }
  EXPECT_TRUE(differs);
}

TEST(Masking, ShowsOnlyWhatListsMayShow) {
  EXPECT_EQ(mask_name("张伟"), "张*");
  EXPECT_EQ(mask_name("王秀英"), "王*英");
  EXPECT_EQ(mask_name("欧阳建华"), "欧**华");
  EXPECT_EQ(mask_name("李"), "*");
  EXPECT_EQ(mask_id_number("11010519491231002X"), "110105********002X");
  EXPECT_EQ(mask_phone("13812345678"), "138****5678");
  EXPECT_EQ(mask_id_number("123"), "***");
}

}  // namespace
}  // namespace banshi::demo
