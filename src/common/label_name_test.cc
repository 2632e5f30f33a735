#include "src/common/label_name.h"

#include <gtest/gtest.h>

namespace telegate::labels {
namespace {

// The cases of the upstream translator's NormalizeLabel test (default feature gates).
TEST(LabelNameTest, UpstreamTranslatorCases) {
  EXPECT_EQ(normalizeLabelName(""), "");
  EXPECT_EQ(normalizeLabelName("_test"), "key_test");
  EXPECT_EQ(normalizeLabelName("0test"), "key_0test");
  EXPECT_EQ(normalizeLabelName("test"), "test");
  EXPECT_EQ(normalizeLabelName("test_/"), "test__");
  EXPECT_EQ(normalizeLabelName("__test"), "__test");
}

TEST(LabelNameTest, OneUnderscorePerRune) {
  EXPECT_EQ(normalizeLabelName("k8s.pod-name"), "k8s_pod_name");
  EXPECT_EQ(normalizeLabelName("caf\xc3\xa9"), "caf_");               // é: one rune
  EXPECT_EQ(normalizeLabelName("\xc3\xa9t\xc3\xa9"), "key_t_");       // "_t_" then "key"
  EXPECT_EQ(normalizeLabelName("a\xf0\x9f\x98\x80z"), "a_z");         // a four-byte rune
  EXPECT_EQ(normalizeLabelName(std::string("a\xff\xfe", 3)), "a__");  // invalid bytes: one each
  EXPECT_EQ(normalizeLabelName("__tenant.id__"), "__tenant_id__");
}

TEST(LabelNameTest, NormalNamesAreExactlyTheFixedPoints) {
  for (const char* n : {"", "a", "job", "__name__", "k8s_pod", "A1_b"}) {
    EXPECT_TRUE(isNormalLabelName(n)) << n;
    EXPECT_EQ(normalizeLabelName(n), n);
  }
  for (const char* n : {"_x", "0a", "a.b", "caf\xc3\xa9", "a-b", "_"}) {
    EXPECT_FALSE(isNormalLabelName(n)) << n;
    EXPECT_NE(normalizeLabelName(n), n);
  }
}

}  // namespace
}  // namespace telegate::labels
