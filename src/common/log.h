// Structured, leveled logging in logfmt or JSON.
//
// Contract:
//  * One log call produces exactly one line (terminated by '\n') which is handed to the sink in a
//    single call; the default sink writes it to stderr with a single write(2) (looping only on a
//    short write), so lines from concurrent threads never interleave.
//  * Lines below the configured level are discarded before any formatting work: `enabled()` and
//    the level check in `Logger::log` are a single relaxed atomic load.
//  * Every line starts with `ts` (UTC, RFC 3339 with microseconds), `level` and `msg`, followed by
//    the logger's base fields and then the call's fields, in order.
//      logfmt: ts=2026-11-24T03:35:38.123456Z level=info msg="listening" component_id=x addr=:4318
//      json:   {"ts":"2026-11-24T03:35:38.123456Z","level":"info","msg":"listening",...}
//    In logfmt, `msg` is always quoted; other values are quoted only when they are empty or
//    contain a space, a control character, '=' or '"'. Inside quotes '"', '\', newline, CR and
//    tab are backslash-escaped and other control bytes are written as \u00XX. In JSON all strings
//    are escaped per RFC 8259 and invalid UTF-8 bytes are replaced with U+FFFD. Keys are
//    sanitised (bytes other than [A-Za-z0-9_.:/-] become '_').
//
// Thread-safety: everything here is safe to call from any thread. `configure` and
// `setSinkForTest` take effect for lines started after they return. `Logger` is an immutable value
// type (copyable, cheap to pass by const reference). The sink passed to `setSinkForTest` may be
// called concurrently from several threads; it must do its own locking.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace telegate::log {

enum class Level { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };
enum class Format { kLogfmt, kJson };

// "debug", "info", "warn", "error" (exact, lower case). Otherwise InvalidArgument
// `unrecognized log level "x"`.
absl::StatusOr<Level> parseLevel(std::string_view s);
// "logfmt", "json". Otherwise InvalidArgument `unrecognized log format "x"`.
absl::StatusOr<Format> parseFormat(std::string_view s);
std::string_view levelName(Level level);

// Sets the minimum level and the output format. Defaults: kInfo, kLogfmt.
void configure(Level level, Format format);
Level currentLevel();
Format currentFormat();
// True when lines at `level` are emitted. A single relaxed atomic load.
bool enabled(Level level);

// Replaces the output sink; `line` includes the trailing '\n'. nullptr restores stderr.
void setSinkForTest(std::function<void(std::string_view line)> sink);

// One key/value pair of a log line. `value` is owned so callers can pass temporaries
// (absl::StrCat(...), std::to_string(...)); `key` must outlive the call (use literals).
struct Field {
  std::string_view key;
  std::string value;
};

// A logger with fixed leading fields, e.g. {"component_id", "otelcol.receiver.otlp.default"}.
class Logger {
 public:
  Logger() = default;
  explicit Logger(std::vector<std::pair<std::string, std::string>> base_fields);
  // Allows Logger({{"component_id", id}, {"k", "v"}}).
  Logger(std::initializer_list<std::pair<std::string, std::string>> base_fields)
      : base_fields_(base_fields) {}

  void debug(std::string_view msg, std::initializer_list<Field> fields = {}) const {
    log(Level::kDebug, msg, fields);
  }
  void info(std::string_view msg, std::initializer_list<Field> fields = {}) const {
    log(Level::kInfo, msg, fields);
  }
  void warn(std::string_view msg, std::initializer_list<Field> fields = {}) const {
    log(Level::kWarn, msg, fields);
  }
  void error(std::string_view msg, std::initializer_list<Field> fields = {}) const {
    log(Level::kError, msg, fields);
  }
  void log(Level level, std::string_view msg, std::initializer_list<Field> fields = {}) const;

  // Returns a copy with one more base field appended.
  Logger with(std::string key, std::string value) const;

  const std::vector<std::pair<std::string, std::string>>& baseFields() const {
    return base_fields_;
  }

 private:
  std::vector<std::pair<std::string, std::string>> base_fields_;
};

// The process-wide logger without base fields.
const Logger& root();

// Rate limiter for "log this reason at most once per period". Lock-free: the next allowed time
// is an atomic timestamp advanced by compare-exchange, so exactly one of several racing callers
// wins. The first call always returns true. Thread-safe.
class OnceEvery {
 public:
  explicit OnceEvery(std::chrono::seconds period)
      : period_ns_(std::chrono::duration_cast<std::chrono::nanoseconds>(period).count()) {}
  OnceEvery(const OnceEvery&) = delete;
  OnceEvery& operator=(const OnceEvery&) = delete;

  bool shouldLog();

 private:
  const int64_t period_ns_;
  std::atomic<int64_t> next_allowed_ns_{INT64_MIN};
};

}  // namespace telegate::log
