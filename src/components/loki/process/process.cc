// loki.process: runs log entries through processing stages and forwards them.
//
// Contract:
//  * Exports `receiver` (capsule loki.LogsReceiver), the same object for the component's life.
//  * Stages run in the order the blocks appear. Supported stages (Alloy's names and arguments):
//      stage.cri { max_partial_lines = 100, max_partial_line_size = 0,
//                  max_partial_line_size_truncate = false }      (see cri.h)
//      stage.static_labels { values = { name = "value", ... } } adds or replaces labels
//      stage.label_drop { values = ["name", ...] }               removes labels
//      stage.label_keep { values = ["name", ...] }               keeps only these labels
//    Any other stage block is a configuration error ("unrecognized block name").
//  * pushBatch() processes the entries and forwards the result to every forward_to receiver. It
//    returns OK once all of them accepted; when one refuses, the stages' state (held partial
//    lines) is rolled back and the error is returned, so the caller's retry processes the same
//    lines again without joining them twice. Entries held as partial lines are forwarded when
//    completed, and at shutdown. Receivers that accepted before the refusing one may see the
//    retried entries again (at-least-once).
//  * Metrics: telegate_loki_process_entries_in_total, _entries_out_total,
//    _cri_partial_lines_flushed_total, _cri_lines_truncated_total (label component_id).
// Thread-safety: pushBatch() may be called from many threads; processing and forwarding of one
// call run under the component's mutex (the stages keep state).
#include <memory>
#include <mutex>
#include <variant>

#include "src/common/strings.h"
#include "src/components/all.h"
#include "src/components/loki/api.h"
#include "src/components/loki/process/cri.h"
#include "src/runtime/registry.h"

namespace telegate::loki::process {

using runtime::ByteSize;
using runtime::CapsuleRef;
using runtime::Schema;

struct CriBlock {
  int64_t max_partial_lines = 100;
  ByteSize max_partial_line_size{0};
  bool max_partial_line_size_truncate = false;
  size_t order = 0;
  static void describe(Schema<CriBlock>& s) {
    s.attr("max_partial_lines", &CriBlock::max_partial_lines);
    s.attr("max_partial_line_size", &CriBlock::max_partial_line_size);
    s.attr("max_partial_line_size_truncate", &CriBlock::max_partial_line_size_truncate);
  }
  absl::Status validate() const {
    if (max_partial_lines <= 0) {
      return absl::InvalidArgumentError("max_partial_lines must be greater than 0");
    }
    return absl::OkStatus();
  }
};

struct StaticLabelsBlock {
  std::map<std::string, std::string> values;
  size_t order = 0;
  static void describe(Schema<StaticLabelsBlock>& s) {
    s.attr("values", &StaticLabelsBlock::values).required();
  }
};

struct LabelListBlock {
  std::vector<std::string> values;
  size_t order = 0;
  static void describe(Schema<LabelListBlock>& s) {
    s.attr("values", &LabelListBlock::values).required();
  }
};

struct Arguments {
  std::vector<CapsuleRef<LogsReceiver>> forward_to;
  std::vector<CriBlock> cri;
  std::vector<StaticLabelsBlock> static_labels;
  std::vector<LabelListBlock> label_drop;
  std::vector<LabelListBlock> label_keep;
  size_t block_seq = 0;  // stage order (see runtime::HasBlockSeq)
  static void describe(Schema<Arguments>& s) {
    s.attr("forward_to", &Arguments::forward_to).required().doc("receivers for processed entries");
    s.block("stage.cri", &Arguments::cri).doc("parse CRI container log lines");
    s.block("stage.static_labels", &Arguments::static_labels).doc("add fixed labels");
    s.block("stage.label_drop", &Arguments::label_drop).doc("remove labels");
    s.block("stage.label_keep", &Arguments::label_keep).doc("keep only these labels");
  }
};

namespace {

struct StaticLabels {
  LabelSet values;
};
struct LabelDrop {
  std::vector<std::string> names;
};
struct LabelKeep {
  std::vector<std::string> names;
};
using Stage = std::variant<std::unique_ptr<CriStage>, StaticLabels, LabelDrop, LabelKeep>;

void setLabel(LabelSet* labels, const std::string& name, const std::string& value) {
  for (auto& kv : *labels) {
    if (kv.first == name) {
      kv.second = value;
      return;
    }
  }
  labels->emplace_back(name, value);
  std::sort(labels->begin(), labels->end());
}

bool contains(const std::vector<std::string>& names, const std::string& n) {
  return std::find(names.begin(), names.end(), n) != names.end();
}

}  // namespace

class Processor : public LogsReceiver {
 public:
  Processor(std::string id, metrics::Registry& m) : id_(std::move(id)) {
    const std::vector<std::string> l{id_};
    in_ =
        &m.counter("telegate_loki_process_entries_in_total", "Entries received.", {"component_id"})
             .with(l);
    out_ = &m.counter("telegate_loki_process_entries_out_total", "Entries forwarded.",
                      {"component_id"})
                .with(l);
    flushed_ = &m.counter("telegate_loki_process_cri_partial_lines_flushed_total",
                          "Partial CRI lines forwarded unjoined because max_partial_lines "
                          "label sets held partials.",
                          {"component_id"})
                    .with(l);
    truncated_ = &m.counter("telegate_loki_process_cri_lines_truncated_total",
                            "CRI lines cut to max_partial_line_size.", {"component_id"})
                      .with(l);
  }

  void configure(const Arguments& args) {
    std::vector<std::pair<size_t, Stage>> ordered;
    for (const auto& c : args.cri) {
      CriOptions o;
      o.max_partial_lines = c.max_partial_lines;
      o.max_partial_line_size = c.max_partial_line_size.bytes;
      o.max_partial_line_size_truncate = c.max_partial_line_size_truncate;
      ordered.emplace_back(c.order, std::make_unique<CriStage>(o));
    }
    for (const auto& s : args.static_labels) {
      StaticLabels st;
      st.values.assign(s.values.begin(), s.values.end());
      ordered.emplace_back(s.order, std::move(st));
    }
    for (const auto& s : args.label_drop) ordered.emplace_back(s.order, LabelDrop{s.values});
    for (const auto& s : args.label_keep) ordered.emplace_back(s.order, LabelKeep{s.values});
    std::sort(ordered.begin(), ordered.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    std::vector<std::shared_ptr<LogsReceiver>> receivers;
    for (const auto& r : args.forward_to) {
      if (r.ptr) receivers.push_back(r.ptr);
    }
    std::lock_guard<std::mutex> lock(mu_);
    // Partial lines held by the old CRI stages are forwarded before the stages are replaced.
    std::vector<Entry> held;
    for (auto& st : stages_) {
      if (auto* cri = std::get_if<std::unique_ptr<CriStage>>(&st)) (*cri)->drain(&held);
    }
    stages_.clear();
    for (auto& [order, st] : ordered) stages_.push_back(std::move(st));
    receivers_ = std::move(receivers);
    if (!held.empty()) (void)forwardLocked(std::move(held));
  }

  absl::Status pushBatch(EntryBatch&& batch) override {
    std::vector<Entry> entries = batch.toEntries();
    in_->inc(static_cast<double>(entries.size()));
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<CriStage::State> saved;
    for (auto& st : stages_) {
      if (auto* cri = std::get_if<std::unique_ptr<CriStage>>(&st))
        saved.push_back((*cri)->snapshot());
    }
    std::vector<Entry> cur = std::move(entries);
    for (auto& st : stages_) cur = runStage(st, std::move(cur));
    absl::Status s = forwardLocked(std::move(cur));
    if (!s.ok()) {
      size_t i = 0;
      for (auto& st : stages_) {
        if (auto* cri = std::get_if<std::unique_ptr<CriStage>>(&st)) (*cri)->restore(saved[i++]);
      }
    }
    return s;
  }

  std::string describe() const override { return id_ + ".receiver"; }

  void shutdown() {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<Entry> held;
    for (auto& st : stages_) {
      if (auto* cri = std::get_if<std::unique_ptr<CriStage>>(&st)) (*cri)->drain(&held);
    }
    if (!held.empty()) (void)forwardLocked(std::move(held));
  }

 private:
  std::vector<Entry> runStage(Stage& st, std::vector<Entry>&& in) {
    if (auto* cri = std::get_if<std::unique_ptr<CriStage>>(&st)) {
      std::vector<Entry> out;
      out.reserve(in.size());
      uint64_t f0 = (*cri)->flushedPartials(), t0 = (*cri)->truncatedLines();
      (*cri)->process(std::move(in), &out);
      flushed_->inc(static_cast<double>((*cri)->flushedPartials() - f0));
      truncated_->inc(static_cast<double>((*cri)->truncatedLines() - t0));
      return out;
    }
    if (auto* sl = std::get_if<StaticLabels>(&st)) {
      for (auto& e : in) {
        for (const auto& [k, v] : sl->values) setLabel(&e.labels, k, v);
      }
      return std::move(in);
    }
    if (auto* d = std::get_if<LabelDrop>(&st)) {
      for (auto& e : in) {
        std::erase_if(e.labels, [&](const auto& kv) { return contains(d->names, kv.first); });
      }
      return std::move(in);
    }
    if (auto* k = std::get_if<LabelKeep>(&st)) {
      for (auto& e : in) {
        std::erase_if(e.labels, [&](const auto& kv) { return !contains(k->names, kv.first); });
      }
      return std::move(in);
    }
    return std::move(in);
  }

  absl::Status forwardLocked(std::vector<Entry>&& entries) {
    if (entries.empty()) return absl::OkStatus();
    const size_t n = entries.size();
    EntryBatch batch = EntryBatch::fromEntries(std::move(entries));
    for (size_t i = 0; i < receivers_.size(); ++i) {
      EntryBatch copy = (i + 1 == receivers_.size()) ? std::move(batch) : batch;
      absl::Status s = receivers_[i]->pushBatch(std::move(copy));
      if (!s.ok()) return s;
    }
    out_->inc(static_cast<double>(n));
    return absl::OkStatus();
  }

  std::string id_;
  metrics::Counter* in_;
  metrics::Counter* out_;
  metrics::Counter* flushed_;
  metrics::Counter* truncated_;
  std::mutex mu_;
  std::vector<Stage> stages_;
  std::vector<std::shared_ptr<LogsReceiver>> receivers_;
};

class Component : public runtime::TypedComponent<Arguments> {
 public:
  Component(runtime::Host& host, const Arguments& args)
      : host_(host), processor_(std::make_shared<Processor>(host.id(), host.metrics())) {
    processor_->configure(args);
    host_.setExports({{"receiver", syntax::Value::capsule(processor_)}});
  }
  absl::Status start() override {
    host_.setHealth(runtime::HealthState::kHealthy, "");
    return absl::OkStatus();
  }
  absl::Status update(const Arguments& args) override {
    processor_->configure(args);
    return absl::OkStatus();
  }
  void shutdown(std::chrono::steady_clock::time_point) override { processor_->shutdown(); }

 private:
  runtime::Host& host_;
  std::shared_ptr<Processor> processor_;
};

}  // namespace telegate::loki::process

namespace telegate::components {
void registerLokiProcess() {
  runtime::registerComponent<loki::process::Component>(
      "loki.process", "Processes log entries through stages and forwards them.",
      {{"receiver", "capsule(loki.LogsReceiver)", "where to send entries to be processed"}});
}
}  // namespace telegate::components
