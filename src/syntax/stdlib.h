// The standard library of the configuration language.
//
// Contract: stdlib() returns the identifiers every configuration can use: functions
// (env, concat, coalesce, json_decode, format, join, split, replace, to_lower, to_upper, trim,
// trim_prefix, trim_suffix, trim_space, nonsensitive, base64_decode, ...) and the namespaces
// sys, array, encoding, string, convert, file, constants (constants.hostname, constants.os,
// constants.arch, constants.version = "v" + telegate::kVersion). Deprecated top-level names carry a
// deprecation text. The object is built once and immutable; safe to share.
#pragma once

#include "src/syntax/value.h"

namespace telegate::syntax {

const Object& stdlib();

}  // namespace telegate::syntax
