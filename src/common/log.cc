#include "src/common/log.h"

#include <errno.h>
#include <time.h>
#include <unistd.h>

#include <memory>
#include <mutex>

#include "absl/status/status.h"
#include "src/common/json_writer.h"

namespace telegate::log {
namespace {

std::atomic<int> g_level{static_cast<int>(Level::kInfo)};
std::atomic<int> g_format{static_cast<int>(Format::kLogfmt)};

using Sink = std::function<void(std::string_view)>;

std::mutex& sinkMutex() {
  static std::mutex* mu = new std::mutex;
  return *mu;
}
// Guarded by sinkMutex(). nullptr means stderr.
std::shared_ptr<const Sink>& sinkSlot() {
  static auto* slot = new std::shared_ptr<const Sink>;
  return *slot;
}

void writeStderr(std::string_view line) {
  const char* p = line.data();
  size_t left = line.size();
  while (left > 0) {
    ssize_t n = ::write(STDERR_FILENO, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      return;
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
}

void emit(std::string_view line) {
  std::shared_ptr<const Sink> sink;
  {
    std::lock_guard<std::mutex> lock(sinkMutex());
    sink = sinkSlot();
  }
  if (sink) {
    (*sink)(line);
  } else {
    writeStderr(line);
  }
}

void appendTimestamp(std::string& out) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  struct tm tm;
  gmtime_r(&ts.tv_sec, &tm);
  char buf[40];
  size_t n = strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
  out.append(buf, n);
  char frac[16];
  int m = snprintf(frac, sizeof(frac), ".%06ldZ", static_cast<long>(ts.tv_nsec / 1000));
  out.append(frac, static_cast<size_t>(m));
}

constexpr char kHex[] = "0123456789abcdef";

void appendControlEscape(std::string& out, unsigned char c) {
  out.append("\\u00");
  out.push_back(kHex[c >> 4]);
  out.push_back(kHex[c & 0xf]);
}

void appendKey(std::string& out, std::string_view key) {
  if (key.empty()) {
    out.push_back('_');
    return;
  }
  for (char ch : key) {
    unsigned char c = static_cast<unsigned char>(ch);
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == ':' || c == '/' || c == '-';
    out.push_back(ok ? ch : '_');
  }
}

bool logfmtNeedsQuote(std::string_view v) {
  if (v.empty()) return true;
  for (char ch : v) {
    unsigned char c = static_cast<unsigned char>(ch);
    if (c <= ' ' || c == '=' || c == '"' || c == 0x7f) return true;
  }
  return false;
}

void appendLogfmtValue(std::string& out, std::string_view v, bool force_quote) {
  if (!force_quote && !logfmtNeedsQuote(v)) {
    out.append(v);
    return;
  }
  out.push_back('"');
  for (char ch : v) {
    unsigned char c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"':
        out.append("\\\"");
        break;
      case '\\':
        out.append("\\\\");
        break;
      case '\n':
        out.append("\\n");
        break;
      case '\r':
        out.append("\\r");
        break;
      case '\t':
        out.append("\\t");
        break;
      default:
        if (c < 0x20 || c == 0x7f) {
          appendControlEscape(out, c);
        } else {
          out.push_back(ch);
        }
    }
  }
  out.push_back('"');
}

class LineBuilder {
 public:
  explicit LineBuilder(Format format) : format_(format) {
    out_.reserve(256);
    if (format_ == Format::kJson) out_.push_back('{');
  }

  void add(std::string_view key, std::string_view value, bool force_quote = false) {
    if (format_ == Format::kJson) {
      if (!first_) out_.push_back(',');
      std::string k;
      appendKey(k, key);
      json::appendString(&out_, k);
      out_.push_back(':');
      json::appendString(&out_, value);
    } else {
      if (!first_) out_.push_back(' ');
      appendKey(out_, key);
      out_.push_back('=');
      appendLogfmtValue(out_, value, force_quote);
    }
    first_ = false;
  }

  std::string finish() && {
    if (format_ == Format::kJson) out_.push_back('}');
    out_.push_back('\n');
    return std::move(out_);
  }

 private:
  Format format_;
  std::string out_;
  bool first_ = true;
};

}  // namespace

absl::StatusOr<Level> parseLevel(std::string_view s) {
  if (s == "debug") return Level::kDebug;
  if (s == "info") return Level::kInfo;
  if (s == "warn") return Level::kWarn;
  if (s == "error") return Level::kError;
  return absl::InvalidArgumentError("unrecognized log level \"" + std::string(s) + "\"");
}

absl::StatusOr<Format> parseFormat(std::string_view s) {
  if (s == "logfmt") return Format::kLogfmt;
  if (s == "json") return Format::kJson;
  return absl::InvalidArgumentError("unrecognized log format \"" + std::string(s) + "\"");
}

std::string_view levelName(Level level) {
  switch (level) {
    case Level::kDebug:
      return "debug";
    case Level::kInfo:
      return "info";
    case Level::kWarn:
      return "warn";
    case Level::kError:
      return "error";
  }
  return "unknown";
}

void configure(Level level, Format format) {
  g_format.store(static_cast<int>(format), std::memory_order_relaxed);
  g_level.store(static_cast<int>(level), std::memory_order_relaxed);
}

Level currentLevel() {
  return static_cast<Level>(g_level.load(std::memory_order_relaxed));
}
Format currentFormat() {
  return static_cast<Format>(g_format.load(std::memory_order_relaxed));
}

bool enabled(Level level) {
  return static_cast<int>(level) >= g_level.load(std::memory_order_relaxed);
}

void setSinkForTest(std::function<void(std::string_view line)> sink) {
  std::shared_ptr<const Sink> next;
  if (sink) next = std::make_shared<const Sink>(std::move(sink));
  std::lock_guard<std::mutex> lock(sinkMutex());
  sinkSlot() = std::move(next);
}

Logger::Logger(std::vector<std::pair<std::string, std::string>> base_fields)
    : base_fields_(std::move(base_fields)) {}

void Logger::log(Level level, std::string_view msg, std::initializer_list<Field> fields) const {
  if (!enabled(level)) return;
  LineBuilder b(currentFormat());
  std::string ts;
  appendTimestamp(ts);
  b.add("ts", ts);
  b.add("level", levelName(level));
  b.add("msg", msg, /*force_quote=*/true);
  for (const auto& [k, v] : base_fields_) b.add(k, v);
  for (const Field& f : fields) b.add(f.key, f.value);
  emit(std::move(b).finish());
}

Logger Logger::with(std::string key, std::string value) const {
  Logger copy(*this);
  copy.base_fields_.emplace_back(std::move(key), std::move(value));
  return copy;
}

const Logger& root() {
  static const Logger* logger = new Logger();
  return *logger;
}

bool OnceEvery::shouldLog() {
  const int64_t now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                          std::chrono::steady_clock::now().time_since_epoch())
                          .count();
  int64_t next = next_allowed_ns_.load(std::memory_order_relaxed);
  if (now < next) return false;
  return next_allowed_ns_.compare_exchange_strong(next, now + period_ns_,
                                                  std::memory_order_relaxed);
}

}  // namespace telegate::log
