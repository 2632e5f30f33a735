// CRI log lines and stage.cri (see cri.h for the contract).
#include "src/components/loki/process/cri.h"

#include <algorithm>

#include "src/components/loki/source/kubernetes/logline.h"

namespace telegate::loki::process {
namespace {

bool isSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

void setLabel(LabelSet* labels, std::string_view name, std::string_view value) {
  auto it = std::lower_bound(labels->begin(), labels->end(), name,
                             [](const auto& kv, std::string_view n) { return kv.first < n; });
  if (it != labels->end() && it->first == name) {
    it->second = std::string(value);
  } else {
    labels->insert(it, {std::string(name), std::string(value)});
  }
}

}  // namespace

bool parseCri(std::string_view line, CriLine* out) {
  size_t i = 0;
  while (i < line.size() && !isSpace(line[i])) ++i;
  if (i == line.size()) return false;  // no whitespace: not CRI (and the stream is missing)
  out->time = line.substr(0, i);
  line.remove_prefix(i);
  if (line.empty() || line[0] != ' ') return false;
  line.remove_prefix(1);
  if (line.rfind("stdout", 0) == 0) {
    out->stream = "stdout";
  } else if (line.rfind("stderr", 0) == 0) {
    out->stream = "stderr";
  } else {
    return false;
  }
  line.remove_prefix(6);
  if (line.empty() || line[0] != ' ') return false;
  line.remove_prefix(1);
  out->partial = false;
  if (!line.empty() && (line[0] == 'P' || line[0] == 'F')) {
    out->partial = line[0] == 'P';
    line.remove_prefix(1);
  }
  if (!line.empty() && line[0] == ' ') line.remove_prefix(1);
  out->content = line;
  return true;
}

void CriStage::truncate(Entry* e) {
  if (opts_.max_partial_line_size_truncate && e->line.size() > opts_.max_partial_line_size) {
    e->line.resize(opts_.max_partial_line_size);
    ++truncated_;
  }
}

void CriStage::process(std::vector<Entry>&& in, std::vector<Entry>* out) {
  for (auto& e : in) {
    CriLine c;
    if (!parseCri(e.line, &c)) {
      out->push_back(std::move(e));
      continue;
    }
    int64_t ts = 0;
    if (source_kubernetes::parseRfc3339(c.time, &ts)) e.timestamp_ns = ts;
    bool partial = c.partial;
    std::string stream(c.stream);
    e.line = std::string(c.content);
    setLabel(&e.labels, "stream", stream);
    if (partial) {
      auto it = partials_.find(e.labels);
      if (it == partials_.end() &&
          partials_.size() >= static_cast<size_t>(opts_.max_partial_lines)) {
        flushed_ += partials_.size();
        for (auto& [labels, held] : partials_) out->push_back(std::move(held));
        partials_.clear();
        it = partials_.end();
      }
      if (it != partials_.end()) {
        it->second.line.append(e.line);
        it->second.timestamp_ns = e.timestamp_ns;
        truncate(&it->second);
      } else {
        truncate(&e);
        LabelSet key = e.labels;
        partials_.emplace(std::move(key), std::move(e));
      }
      continue;
    }
    auto it = partials_.find(e.labels);
    if (it != partials_.end()) {
      std::string joined = std::move(it->second.line);
      joined.append(e.line);
      e.line = std::move(joined);
      truncate(&e);
      partials_.erase(it);
    }
    out->push_back(std::move(e));
  }
}

void CriStage::drain(std::vector<Entry>* out) {
  for (auto& [labels, held] : partials_) out->push_back(std::move(held));
  partials_.clear();
}

}  // namespace telegate::loki::process
