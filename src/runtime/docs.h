// Generated reference documentation for registered components.
//
// Contract: componentReference() renders every registration of `registry` (sorted by name) as
// Markdown: summary, stability, an attribute table per block (name, type, default, required,
// description) and the exports. docs/configuration.md embeds this text between markers, and a
// test keeps the two equal, so the reference always matches the code.
#pragma once

#include <string>

#include "src/runtime/registry.h"

namespace telegate::runtime {

std::string componentReference(const Registry& registry);

inline constexpr const char* kDocsBeginMarker = "<!-- BEGIN GENERATED COMPONENT REFERENCE -->";
inline constexpr const char* kDocsEndMarker = "<!-- END GENERATED COMPONENT REFERENCE -->";

}  // namespace telegate::runtime
