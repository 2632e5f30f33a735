// Informer: keeps an up-to-date copy of one kind of Kubernetes object (LIST + WATCH), like
// client-go's reflector + store.
//
// Contract:
//   - start() runs one background thread; stop() (also the destructor) cancels the in-flight
//     request and joins within milliseconds. Handler callbacks run on that thread, one at a time.
//     An Informer runs once: after stop() it cannot be started again (make a new one).
//   - The thread LISTs `<api_prefix>/[namespaces/<ns>/]<resource>` in pages (limit/continue), then
//     WATCHes from the list's resourceVersion (?watch=true&allowWatchBookmarks=true&
//     timeoutSeconds=<random in [min,max]>), with labelSelector/fieldSelector on both.
//     After a list, handler.replaced() receives the full store (key -> object JSON; key is
//     "<namespace>/<name>" or "<name>"); watch events call upserted()/deleted(); BOOKMARKs only
//     advance the resourceVersion. A watch that ends normally is reopened from the last
//     resourceVersion (at once, or after a backoff delay when it lasted under a second); 410 Gone
//     (HTTP status or ERROR event), other ERROR events and undecodable streams lead to a relist.
//     Failures (transport, HTTP errors) call failed() and are retried with exponential backoff +
//     jitter (Backoff); a failed watch is followed by a relist (an outage may outlive the
//     resourceVersion); a watch that broke after running for a second or more is not reported
//     through failed(), only the outcome of the relist is. connected() is called after each
//     successful list, so the owner can report health; requested() before each request.
//   - listCount()/watchCount() count requests for tests and metrics.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "src/k8s/client.h"

namespace telegate::k8s {

struct ResourceRef {
  std::string api_prefix = "/api/v1";  // "/apis/discovery.k8s.io/v1" for EndpointSlices
  std::string resource;                // "pods", "services", "endpoints", "nodes"
  std::string namespace_;              // "" = all namespaces (or a cluster-scoped resource)
  std::string label_selector;
  std::string field_selector;
  std::string describe() const;  // "pods in namespace default" / "nodes"
};

struct InformerHandler {
  std::function<void(const std::map<std::string, std::string>& objects)> replaced;
  std::function<void(const std::string& key, const std::string& object_json)> upserted;
  std::function<void(const std::string& key)> deleted;
  std::function<void(const absl::Status& error)> failed;
  std::function<void()> connected;
  std::function<void(bool watch)> requested;  // before each LIST page (false) / WATCH (true)
};

struct InformerOptions {
  int64_t page_limit = 500;
  std::chrono::seconds min_watch_timeout{300};  // client-go: 5-10 minutes
  std::chrono::seconds max_watch_timeout{600};
  std::chrono::milliseconds backoff_initial{800};
  std::chrono::milliseconds backoff_max{30000};
};

class Informer {
 public:
  Informer(Client& client, ResourceRef ref, InformerHandler handler, InformerOptions opts = {});
  ~Informer();
  Informer(const Informer&) = delete;
  Informer& operator=(const Informer&) = delete;

  void start();
  void stop();

  const ResourceRef& ref() const { return ref_; }
  uint64_t listCount() const { return lists_.load(); }
  uint64_t watchCount() const { return watches_.load(); }

 private:
  void run();
  // LIST into a new store; returns the list's resourceVersion.
  absl::StatusOr<std::string> list();
  // One WATCH; returns true when a relist is needed, with the updated resourceVersion in *rv.
  absl::StatusOr<bool> watch(std::string* rv);
  std::string query(bool watch) const;

  Client& client_;
  ResourceRef ref_;
  InformerHandler handler_;
  InformerOptions opts_;
  Cancel cancel_;
  std::thread thread_;
  std::map<std::string, std::string> store_;
  std::atomic<uint64_t> lists_{0}, watches_{0};
};

}  // namespace telegate::k8s
