// Prometheus-style label name normalisation of OTLP attribute names, shared by
// otelcol.exporter.loki and otelcol.exporter.prometheus (the contrib translator's
// pkg/translator/prometheus NormalizeLabel, as both Alloy components use it).
//
// Contract:
//  * normalizeLabelName(name): "" stays ""; every rune (UTF-8 decoded as Go does, an invalid byte
//    counting as one rune) that is not an ASCII letter or digit becomes one '_' (the upstream
//    replaces per rune; it keeps non-ASCII letters and digits too, which Loki and Prometheus
//    refuse as label names, so here they become '_' like any other rune); then a name starting
//    with a digit gets the prefix "key_", and one starting with a single '_' (not "__") the
//    prefix "key".
//  * isNormalLabelName(name): true exactly when normalizeLabelName(name) == name (a fast check
//    for the common case).
//  * Pure functions; thread-safe.
#pragma once

#include <string>
#include <string_view>

namespace telegate::labels {

std::string normalizeLabelName(std::string_view name);
bool isNormalLabelName(std::string_view name);

}  // namespace telegate::labels
