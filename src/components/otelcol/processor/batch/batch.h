// otelcol.processor.batch: groups telemetry into larger requests before export.
//
// Contract:
//   * Arguments follow Alloy's schema and defaults (timeout 200ms, send_batch_size 2000,
//     send_batch_max_size 3000, metadata_cardinality_limit 1000). The component exports `input`,
//     an otelcol.Consumer capsule that stays the same object across update().
//   * One batcher per signal and per tenant (pdata::ClientInfo::tenant, "" when none). telegate
//     carries no client metadata besides the tenant, so `metadata_keys` accepts only "tenant" and
//     "x-scope-orgid" (any case) and batching is per tenant whether or not it is set. More than
//     `metadata_cardinality_limit` tenants of one signal: new tenants are refused with Alloy's
//     permanent error (INVALID_ARGUMENT "too many batcher metadata-value combinations").
//   * consume() queues the request (its wire bytes, moved, not copied) on its batcher's pending
//     list under that batcher's mutex (no component-wide lock). When pending ≥ send_batch_size
//     the caller's thread cuts pieces of send_batch_max_size items off the front and sends each
//     while what is left is ≥ send_batch_size (5000 → 3000 + 2000; 4500 → 3000 sent, 1500 kept).
//     A piece is made of whole requests (one request is passed on as it is, several are
//     concatenated once) plus, when a request straddles the piece's end, the first part of that
//     request cut with pdata::splitRequest; only that request is re-encoded, and its rest stays at
//     the front of pending. Only one thread sends for a batcher at a time; others just append. A
//     single timer thread sends everything pending for longer than `timeout` and retries failed
//     sends. send_batch_size 0 forwards every request at once (split at send_batch_max_size).
//   * Each piece is copied for every output but the last one still to be served, which gets the
//     piece itself (see consumer.h: a consumer refusing with RESOURCE_EXHAUSTED/UNAVAILABLE leaves
//     it untouched, so it is retried as it was). An output that breaks that rule (refuses a batch
//     it moved from) cannot be retried: the piece counts as dropped for it (permanent_error).
//   * Unlike Alloy, a failed send does not lose data: on RESOURCE_EXHAUSTED/UNAVAILABLE from an
//     output the piece is kept (with the set of outputs that already accepted it) and retried by
//     the timer with backoff (200ms doubling to 5s); meanwhile data accumulates. When a batcher
//     whose last send failed holds more than 10 × send_batch_max_size items (10 ×
//     send_batch_size, or 81920 when both are 0) new data is refused with RESOURCE_EXHAUSTED,
//     which receivers answer with 429/503. While sends succeed the bound is 3 times higher
//     (producers outrunning the single sender of a batcher); a larger backlog only adds memory,
//     not throughput.
//     Other codes from an output are permanent: the piece is dropped for that output, counted in
//     telegate_processor_dropped_items_total{component_id,signal,reason} and logged at most once a
//     minute per reason. Accepted data is never dropped without being counted.
//   * Pending and held payload bytes are charged to globalMemoryBudget() (at most 75 % of its
//     limit, so the exporters' queues downstream keep room): consume() refuses a request the
//     budget cannot take with RESOURCE_EXHAUSTED "memory limit reached" (counted as
//     refused_items{reason="memory_limit"}); the charge is released when a piece is delivered or
//     dropped, and entirely whenever the batcher holds nothing.
//   * update() swaps settings and outputs atomically; pending data stays and goes to the new
//     outputs (as Alloy), and when the outputs changed everything pending is flushed at once.
//   * Durable outputs (consumer.h): when every output of a signal is durable (an exporter with
//     sending_queue { storage = "disk" }, otelcol.exporter.loki / .prometheus forwarding only to
//     a WAL, or another batch processor in pass-through) requests of that signal are not buffered:
//     consume() hands each one to the outputs on the caller's thread (flush.h, passThrough) and
//     returns their answer, so a client's 2xx means the data is in the durable queue. A refusal
//     goes back to the client as it is (counted in refused_items{reason="output_refused"}),
//     nothing is held or dropped, and sends_total{trigger="pass_through"} counts the requests.
//     Batching then happens in the exporter's queue consumer (exporterhelper/exporter.h,
//     Merging). Other signals keep the in-memory batching. The check is made per request, so a
//     reload that changes an output's durability takes effect at once (pending data is flushed
//     as for any change of outputs). durable(signal) of `input` is true in pass-through, so
//     chains of processors compose.
//   * shutdown(deadline) refuses new data (UNAVAILABLE), sends everything pending, retrying until
//     the deadline, and counts what is still undelivered then as dropped (reason "shutdown"). The
//     batchers (signals x tenants) are flushed in parallel, round robin (flush.h,
//     drainInParallel): an output that keeps refusing does not take the others' time. With
//     durable outputs nothing is held, so nothing is dropped.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "src/components/otelcol/config.h"
#include "src/runtime/component.h"

namespace telegate::otelcol::processor_batch {

struct Arguments {
  Duration timeout{200ms};
  int64_t send_batch_size = 2000;
  int64_t send_batch_max_size = 3000;
  std::vector<std::string> metadata_keys;
  int64_t metadata_cardinality_limit = 1000;
  OutputBlock output;
  static void describe(Schema<Arguments>& s);
  absl::Status validate() const;
};

class Core;

class Component : public runtime::TypedComponent<Arguments> {
 public:
  Component(runtime::Host& host, const Arguments& args);
  ~Component() override;
  absl::Status start() override;
  absl::Status update(const Arguments& args) override;
  void shutdown(std::chrono::steady_clock::time_point deadline) override;
  syntax::Value debugInfo() const override;

  // The exported `input` (for tests).
  std::shared_ptr<Consumer> input() const { return input_; }

 private:
  runtime::Host& host_;
  std::shared_ptr<Core> core_;
  std::shared_ptr<Consumer> input_;
  uint64_t collector_ = 0;
};

}  // namespace telegate::otelcol::processor_batch
