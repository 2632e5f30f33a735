// Positions store for log sources (see positions.h for the contract).
#include "src/components/loki/source/positions.h"

#include <fcntl.h>
#include <simdjson.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "src/common/json_writer.h"
#include "src/common/strings.h"

namespace telegate::loki::source {
namespace {

absl::Status fsyncPath(const std::string& path, int flags) {
  int fd = ::open(path.c_str(), flags | O_CLOEXEC);
  if (fd < 0) return absl::InternalError(strCat("open ", path, ": ", std::strerror(errno)));
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) return absl::InternalError(strCat("fsync ", path, ": ", std::strerror(err)));
  return absl::OkStatus();
}

}  // namespace

std::string Positions::encode(const Map& m) {
  std::string out = "{\"positions\":[";
  bool first = true;
  for (const auto& [key, value] : m) {
    if (!first) out.push_back(',');
    first = false;
    out.append("\n{\"path\":");
    json::appendString(&out, key.first, json::kJsonMinimal);
    out.append(",\"labels\":");
    json::appendString(&out, key.second, json::kJsonMinimal);
    out.append(",\"value\":");
    json::appendString(&out, value, json::kJsonMinimal);
    out.push_back('}');
  }
  out.append("\n]}\n");
  return out;
}

absl::Status Positions::decode(std::string_view text, Map* out) {
  simdjson::dom::parser parser;
  simdjson::padded_string padded(text.data(), text.size());
  simdjson::dom::element root;
  if (auto err = parser.parse(padded).get(root); err != simdjson::SUCCESS) {
    return absl::InvalidArgumentError(strCat("positions: ", simdjson::error_message(err)));
  }
  simdjson::dom::array arr;
  if (root["positions"].get(arr) != simdjson::SUCCESS) {
    return absl::InvalidArgumentError("positions: missing \"positions\" array");
  }
  Map m;
  for (simdjson::dom::element e : arr) {
    std::string_view path, labels, value;
    if (e["path"].get(path) != simdjson::SUCCESS || e["labels"].get(labels) != simdjson::SUCCESS ||
        e["value"].get(value) != simdjson::SUCCESS) {
      return absl::InvalidArgumentError(
          "positions: every entry needs string \"path\", \"labels\" and \"value\"");
    }
    m[{std::string(path), std::string(labels)}] = std::string(value);
  }
  *out = std::move(m);
  return absl::OkStatus();
}

absl::Status Positions::open(const std::string& file, Positions* out, std::string* warning) {
  out->file_ = file;
  std::error_code ec;
  std::filesystem::path p(file);
  if (p.has_parent_path()) std::filesystem::create_directories(p.parent_path(), ec);
  if (ec)
    return absl::InternalError(strCat("create ", p.parent_path().string(), ": ", ec.message()));
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    if (errno == ENOENT || !std::filesystem::exists(p)) return absl::OkStatus();
    return absl::InternalError(strCat("read ", file, ": ", std::strerror(errno)));
  }
  std::stringstream ss;
  ss << in.rdbuf();
  Map m;
  absl::Status st = decode(ss.str(), &m);
  if (!st.ok()) {
    std::string aside = file + ".corrupt";
    std::filesystem::rename(p, aside, ec);
    *warning = strCat("positions file ", file, " is damaged (", st.message(), "); moved to ", aside,
                      " and starting without positions");
    return absl::OkStatus();
  }
  std::lock_guard<std::mutex> lock(out->mu_);
  out->map_ = std::move(m);
  return absl::OkStatus();
}

std::optional<std::string> Positions::get(std::string_view path, std::string_view labels) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = map_.find({std::string(path), std::string(labels)});
  if (it == map_.end()) return std::nullopt;
  return it->second;
}

void Positions::put(std::string_view path, std::string_view labels, std::string value) {
  std::lock_guard<std::mutex> lock(mu_);
  auto& slot = map_[{std::string(path), std::string(labels)}];
  if (slot == value) return;
  slot = std::move(value);
  ++version_;
}

void Positions::remove(std::string_view path, std::string_view labels) {
  std::lock_guard<std::mutex> lock(mu_);
  if (map_.erase({std::string(path), std::string(labels)}) > 0) ++version_;
}

size_t Positions::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return map_.size();
}

absl::Status Positions::sync() {
  std::lock_guard<std::mutex> wlock(write_mu_);
  Map snapshot;
  uint64_t version;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (version_ == written_) return absl::OkStatus();
    snapshot = map_;
    version = version_;
  }
  if (file_.empty()) return absl::FailedPreconditionError("positions store was not opened");
  std::string text = encode(snapshot);
  std::string tmp = file_ + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return absl::InternalError(strCat("open ", tmp, ": ", std::strerror(errno)));
  size_t off = 0;
  while (off < text.size()) {
    ssize_t n = ::write(fd, text.data() + off, text.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      return absl::InternalError(strCat("write ", tmp, ": ", std::strerror(err)));
    }
    off += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) {
    int err = errno;
    ::close(fd);
    return absl::InternalError(strCat("fsync ", tmp, ": ", std::strerror(err)));
  }
  ::close(fd);
  if (::rename(tmp.c_str(), file_.c_str()) != 0) {
    return absl::InternalError(strCat("rename ", tmp, ": ", std::strerror(errno)));
  }
  std::filesystem::path dir = std::filesystem::path(file_).parent_path();
  if (dir.empty()) dir = ".";
  absl::Status st = fsyncPath(dir.string(), O_RDONLY | O_DIRECTORY);
  if (!st.ok()) return st;
  std::lock_guard<std::mutex> lock(mu_);
  written_ = version;
  return absl::OkStatus();
}

}  // namespace telegate::loki::source
