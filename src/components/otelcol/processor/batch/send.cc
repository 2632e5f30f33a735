// otelcol.processor.batch, Core (core.h): the send path of one batcher. sendLocked() cuts pieces
// of send_batch_max_size items off the front of pending data (cutPiece, re-encoding only the
// request at the cut), queues each on the batcher's retry list and delivers the list in order
// (deliver: copies for every output but the last), with backoff after a retryable refusal, and
// gives back the memory charge of what left the batcher. Threading: every function here runs with
// the batcher's send_mu held (one sender per batcher) and takes its mu only briefly.
#include <algorithm>
#include <iterator>
#include <optional>

#include "src/common/memory_budget.h"
#include "src/common/strings.h"
#include "src/components/otelcol/processor/batch/core.h"
#include "src/pdata/otlp_split.h"

namespace telegate::otelcol::processor_batch {

Core::Delivery Core::deliver(RetryEntry& e, const Live& live, uint64_t items, size_t bytes) {
  const Signal s = e.batch.signal;
  const auto& outs = live.outputs[idx(s)];
  if (outs.empty()) {
    countDrop(s, "no_consumer", items, "the output list of this signal is empty");
    return Delivery::kDone;
  }
  auto served = [&](size_t i) {
    if (std::find(e.done.begin(), e.done.end(), outs[i]) != e.done.end()) return true;
    // An output listed twice is served once, at its first place.
    return std::find(outs.begin(), outs.begin() + static_cast<std::ptrdiff_t>(i), outs[i]) !=
           outs.begin() + static_cast<std::ptrdiff_t>(i);
  };
  size_t last = outs.size();
  for (size_t i = outs.size(); i-- > 0;) {
    if (!served(i)) {
      last = i;
      break;
    }
  }
  bool retry = false;
  std::string first_err;
  for (size_t i = 0; i < outs.size(); ++i) {
    if (served(i)) continue;
    const auto& out = outs[i];
    const bool move = i == last && !retry;
    absl::Status st;
    if (move) {
      st = out->consume(std::move(e.batch));
    } else {
      pdata::Batch copy = e.batch;
      st = out->consume(std::move(copy));
    }
    if (st.ok()) {
      e.done.push_back(out);
    } else if (retryable(st.code()) &&
               (!move || (e.batch.payload.size() == bytes && e.batch.items == items))) {
      retry = true;
      failures_[idx(s)]->inc();
      if (first_err.empty()) first_err = std::string(st.message());
    } else if (retryable(st.code())) {
      // The output refused a batch it had already taken apart: nothing is left to retry.
      e.done.push_back(out);
      countDrop(s, "permanent_error", items,
                strCat(out->describe(), " refused a batch it had moved from: ", st.message()));
    } else {
      e.done.push_back(out);  // permanent for this output: never retried
      countDrop(s, "permanent_error", items, strCat(out->describe(), ": ", st.message()));
    }
  }
  if (retry) {
    if (retry_log_.shouldLog()) {
      logger_.warn("an output refused a batch; keeping it and retrying",
                   {{"signal", std::string(pdata::signalName(s))}, {"err", first_err}});
    }
    return Delivery::kRetry;
  }
  sends_[idx(s)][static_cast<size_t>(e.trigger)]->inc();
  sizes_[idx(s)]->observe(static_cast<double>(items));
  return Delivery::kDone;
}

bool Core::drainRetries(Batcher& b, const Live& live) {
  while (!b.retry.empty()) {
    RetryEntry& e = b.retry.front();
    const uint64_t items = e.batch.items;
    const size_t bytes = e.batch.payload.size();
    if (deliver(e, live, items, bytes) == Delivery::kRetry) {
      noteFailure(b);
      return false;
    }
    noteSuccess(b, items, bytes);
    b.retry.pop_front();
  }
  return true;
}

void Core::noteFailure(Batcher& b) {
  {
    std::lock_guard<std::mutex> l(b.mu);
    b.backoff = b.backoff == Clock::duration::zero()
                    ? Clock::duration(kInitialBackoff)
                    : std::min<Clock::duration>(b.backoff * 2, kMaxBackoff);
    b.retry_at = Clock::now() + b.backoff;
  }
  std::lock_guard<std::mutex> l(timer_mu_);
  rescan_ = true;
  timer_cv_.notify_all();
}

void Core::noteSuccess(Batcher& b, uint64_t items, size_t bytes) {
  std::lock_guard<std::mutex> l(b.mu);
  b.held_items -= items;
  releaseLocked(b, bytes);
  b.backoff = Clock::duration::zero();
  b.retry_at = Clock::time_point{};
}

void Core::releaseLocked(Batcher& b, size_t bytes) {
  size_t n = std::min(bytes, b.charged);
  if (b.pending_items == 0 && b.held_items == 0) n = b.charged;
  b.charged -= n;
  globalMemoryBudget().release(n);
}

bool Core::sendLocked(Batcher& b, Trigger trigger, bool all, bool force) {
  // `all` takes what is pending when it starts (the timer must not be captured by a steady
  // stream); a size-triggered sender picks up what others appended meanwhile, a few rounds at
  // most.
  for (int round = 0; round < (all ? 1 : kMaxSendRounds); ++round) {
    auto live = live_.load();
    if (!force) {
      std::lock_guard<std::mutex> l(b.mu);
      if (Clock::now() < b.retry_at) return b.retry.empty();
    }
    if (!drainRetries(b, *live)) return false;
    const uint64_t min_items = all ? 1 : std::max<uint64_t>(live->send_batch_size, 1);
    uint64_t avail;  // items of this round's share of pending not cut yet
    {
      std::lock_guard<std::mutex> l(b.mu);
      avail = b.pending_items;
    }
    if (avail < min_items) return true;
    // Cut pieces of send_batch_max_size items off the front while enough is left (5000 →
    // 3000 + 2000; 4500 → 3000, and 1500 stay pending), delivering each before the next cut.
    while (avail >= min_items) {
      const uint64_t want =
          live->send_batch_max_size == 0 ? avail : std::min(avail, live->send_batch_max_size);
      RetryEntry e;
      const uint64_t consumed = cutPiece(b, want, &avail, &e.batch);
      if (consumed == 0) break;          // nothing left to cut (only after a miscount)
      if (e.batch.items == 0) continue;  // dropped as malformed
      e.trigger = trigger;
      b.retry.push_back(std::move(e));
      if (!drainRetries(b, *live)) return false;
    }
  }
  return true;
}

uint64_t Core::cutPiece(Batcher& b, uint64_t want, uint64_t* avail, pdata::Batch* out) {
  std::vector<Segment>& parts = b.parts;
  parts.clear();
  std::optional<Segment> cut;  // the segment that does not fit whole
  uint64_t got = 0;            // items in `parts`
  size_t bytes = 0;            // bytes in `parts`
  std::shared_ptr<const pdata::ClientInfo> client;
  {
    std::lock_guard<std::mutex> l(b.mu);
    client = b.client;
    while (got < want && !b.pending.empty()) {
      Segment& seg = b.pending.front();
      if (got + seg.items > want) {
        cut.emplace(std::move(seg));
      } else {
        got += seg.items;
        bytes += seg.wire.size();
        parts.push_back(std::move(seg));
      }
      b.pending.pop_front();
      if (cut) break;
    }
    b.pending_items -= got + (cut ? cut->items : 0);
    b.held_items += got + (cut ? cut->items : 0);
  }
  const uint64_t taken = got + (cut ? cut->items : 0);
  out->signal = b.signal;
  out->client = std::move(client);
  out->items = got;

  std::vector<pdata::SplitPiece> rest;    // the part of `cut` that goes back to pending
  std::optional<absl::Status> malformed;  // set when `cut` could not be split
  bool parts_lost = false;                // the failed split covered `parts` too
  if (!cut) {
    concat(parts, bytes, 0, &out->payload);
  } else if (cut->items <= 2 * (want - got)) {
    // The room left is at least half the segment: cutting it with the room as the piece
    // size gives exactly two pieces, the room's worth and the rest.
    auto split = pdata::splitRequest(b.signal, cut->wire, want - got);
    if (split.ok() && !split->empty()) {
      rest.assign(std::make_move_iterator(split->begin() + 1),
                  std::make_move_iterator(split->end()));
      pdata::SplitPiece& first = split->front();
      out->items += first.items;
      if (parts.empty()) {
        out->payload = std::move(first.wire);
      } else {
        concat(parts, bytes, first.wire.size(), &out->payload);
        out->payload.append(first.wire);
      }
    } else {
      malformed = split.ok() ? absl::InvalidArgumentError("no items") : split.status();
      concat(parts, bytes, 0, &out->payload);
    }
  } else {
    // A large segment and little room: cutting the segment alone at the room would give many
    // small pieces, so cut the concatenation at `want` instead (pieces of `want` items; the
    // ones after the first go back to pending).
    std::string joined;
    std::string_view whole = cut->wire;
    if (!parts.empty()) {
      concat(parts, bytes, cut->wire.size(), &joined);
      joined.append(cut->wire);
      whole = joined;
    }
    auto split = pdata::splitRequest(b.signal, whole, want);
    if (split.ok() && !split->empty()) {
      rest.assign(std::make_move_iterator(split->begin() + 1),
                  std::make_move_iterator(split->end()));
      out->items = split->front().items;
      out->payload = std::move(split->front().wire);
    } else {
      malformed = split.ok() ? absl::InvalidArgumentError("no items") : split.status();
      parts_lost = !parts.empty();
      out->items = 0;
      out->payload.clear();
    }
  }
  parts.clear();

  uint64_t back_items = 0;
  for (const auto& p : rest) back_items += p.items;
  const uint64_t consumed = taken > back_items ? taken - back_items : 0;
  *avail -= std::min(*avail, consumed);
  {
    std::lock_guard<std::mutex> l(b.mu);
    if (cut) {
      for (auto it = rest.rbegin(); it != rest.rend(); ++it) {
        b.pending.push_front(Segment{std::move(it->wire), it->items, cut->arrived});
      }
      if (b.pending_items == 0 && back_items > 0) b.client = out->client;
      b.pending_items += back_items;
      // What is held from here on is the piece, with its items as the split counted them
      // (the wire is trusted over a sender's count).
      b.held_items = b.held_items + out->items - taken;
      if (malformed) releaseLocked(b, cut->wire.size() + (parts_lost ? bytes : 0));
    }
    // As Alloy, a size-triggered send restarts the timer for what it leaves of the data it
    // looked at; data that arrived after that keeps its own age.
    if (!b.pending.empty()) b.oldest = *avail > 0 ? Clock::now() : b.pending.front().arrived;
  }
  if (malformed) {
    countDrop(b.signal, "malformed", parts_lost ? taken : cut->items,
              std::string(malformed->message()));
  }
  return consumed;
}

void Core::concat(std::vector<Segment>& parts, size_t bytes, size_t extra, std::string* dst) {
  if (parts.empty()) {
    dst->clear();
    dst->reserve(extra);
    return;
  }
  *dst = std::move(parts.front().wire);
  if (parts.size() == 1 && extra == 0) return;
  dst->reserve(bytes + extra);
  for (size_t i = 1; i < parts.size(); ++i) dst->append(parts[i].wire);
}

}  // namespace telegate::otelcol::processor_batch
