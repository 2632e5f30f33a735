// otelcol.exporter.prometheus and otelcol.exporter.loki normalise attribute names alike, one '_'
// per rune as the upstream translator does (src/common/label_name.h).
#include <gtest/gtest.h>

#include "src/components/otelcol/exporter/loki/loki.h"
#include "src/components/otelcol/exporter/prometheus/prometheus.h"

namespace telegate::otelcol {
namespace {

TEST(PrometheusLabelNameTest, OneUnderscorePerRuneLikeTheLokiExporter) {
  for (const char* n : {"caf\xc3\xa9", "\xc3\xa9t\xc3\xa9", "a\xf0\x9f\x98\x80z", "k8s.pod-name",
                        "_x", "0abc", "__x"}) {
    EXPECT_EQ(exporter_prometheus::normalizeLabel(n), exporter_loki::normalizeLabelName(n)) << n;
  }
  EXPECT_EQ(exporter_prometheus::normalizeLabel("caf\xc3\xa9"), "caf_");
  EXPECT_EQ(exporter_prometheus::normalizeLabel("\xc3\xa9t\xc3\xa9"), "key_t_");
}

}  // namespace
}  // namespace telegate::otelcol
