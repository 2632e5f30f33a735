// The embedded default configuration (examples/local.alloy, compiled in).
#pragma once

namespace telegate {
extern const char* const kEmbeddedConfig;
inline constexpr const char* kEmbeddedConfigName = "<embedded:examples/local.alloy>";
}  // namespace telegate
