#include "src/k8s/client.h"

#include <curl/curl.h>
#include <simdjson.h>

#include <algorithm>

#include "src/common/strings.h"
#include "src/common/version.h"

namespace telegate::k8s {

namespace {

std::once_flag g_curl_init;
constexpr size_t kMaxErrorBody = 4096;

}  // namespace

void Cancel::cancel() {
  std::lock_guard<std::mutex> l(mu_);
  cancelled_.store(true, std::memory_order_release);
  for (void* m : multis_) curl_multi_wakeup(static_cast<CURLM*>(m));
  cv_.notify_all();
}

bool Cancel::sleepFor(std::chrono::milliseconds d) {
  std::unique_lock<std::mutex> l(mu_);
  cv_.wait_for(l, d, [&] { return cancelled(); });
  return !cancelled();
}

void Cancel::attach(void* multi) {
  std::lock_guard<std::mutex> l(mu_);
  multis_.push_back(multi);
}

void Cancel::detach(void* multi) {
  std::lock_guard<std::mutex> l(mu_);
  multis_.erase(std::remove(multis_.begin(), multis_.end(), multi), multis_.end());
}

std::string urlEncode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

std::string statusMessage(std::string_view body) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  std::string_view msg;
  if (parser.parse(body.data(), body.size()).get(doc) == simdjson::SUCCESS &&
      doc["message"].get(msg) == simdjson::SUCCESS) {
    return std::string(msg);
  }
  std::string out(body.substr(0, 200));
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out;
}

struct Client::Call {
  const std::function<bool(std::string_view)>* on_data = nullptr;  // null: collect into body
  std::string* body = nullptr;
  size_t max_body = 0;
  bool too_big = false;
  bool stopped = false;
  bool force_token = false;
  std::string* error_body = nullptr;
  CURL* easy = nullptr;
  std::chrono::steady_clock::time_point last_data;

  static size_t onWrite(char* ptr, size_t size, size_t n, void* user) {
    auto* c = static_cast<Call*>(user);
    size_t len = size * n;
    c->last_data = std::chrono::steady_clock::now();
    long code = 0;
    curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &code);
    std::string_view chunk(ptr, len);
    if (code < 200 || code >= 300) {
      if (c->error_body != nullptr && c->error_body->size() < kMaxErrorBody) {
        c->error_body->append(chunk.substr(0, kMaxErrorBody - c->error_body->size()));
      }
      return len;
    }
    if (c->on_data != nullptr) {
      if (!(*c->on_data)(chunk)) {
        c->stopped = true;
        return 0;
      }
      return len;
    }
    if (c->body->size() + len > c->max_body) {
      c->too_big = true;
      return 0;
    }
    c->body->append(chunk);
    return len;
  }
};

Client::Client(Config config, Options options)
    : config_(std::move(config)), options_(options), tls_(net::CurlTls::create(config_.tls)) {
  std::call_once(g_curl_init, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  while (!config_.server.empty() && config_.server.back() == '/') config_.server.pop_back();
  if (config_.user_agent.empty()) config_.user_agent = strCat("telegate/", kVersion);
}

Client::~Client() = default;

std::string Client::authorization(bool force_reload) {
  if (!config_.bearer_token.empty()) return strCat("Bearer ", config_.bearer_token);
  if (config_.bearer_token_file.empty()) return "";
  std::lock_guard<std::mutex> l(token_mu_);
  auto now = std::chrono::steady_clock::now();
  if (force_reload || token_.empty() || now - token_read_ >= options_.token_reload) {
    auto t = readTextFile(config_.bearer_token_file);
    if (t.ok()) {
      token_ = std::move(*t);
      token_error_.clear();
    } else {
      token_error_ = std::string(t.status().message());  // keep the previous token
    }
    token_read_ = now;
  }
  return token_.empty() ? "" : strCat("Bearer ", token_);
}

absl::StatusOr<int> Client::perform(std::string_view path, Call& call, Cancel* cancel,
                                    std::chrono::milliseconds timeout,
                                    std::chrono::milliseconds idle_timeout) {
  if (cancel != nullptr && cancel->cancelled()) return absl::CancelledError("cancelled");
  std::string url = strCat(config_.server, path);
  if (!tls_.ok()) return absl::FailedPreconditionError(strCat("tls: ", tls_.status().message()));
  CURL* e = curl_easy_init();
  CURLM* m = curl_multi_init();
  if (e == nullptr || m == nullptr) {
    if (e != nullptr) curl_easy_cleanup(e);
    if (m != nullptr) curl_multi_cleanup(m);
    return absl::InternalError("curl initialisation failed");
  }
  call.easy = e;
  call.last_data = std::chrono::steady_clock::now();
  curl_slist* hdrs = curl_slist_append(nullptr, "Accept: application/json");
  std::string auth = authorization(call.force_token);
  if (!auth.empty()) hdrs = curl_slist_append(hdrs, strCat("Authorization: ", auth).c_str());
  net::CurlTlsRequest tls_req;  // sets CURLOPT_URL (see src/net/curl_tls.h)
  if (auto st = (*tls_)->apply(e, url, &tls_req); !st.ok()) {
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(e);
    curl_multi_cleanup(m);
    return st;
  }
  if (!tls_req.host_header.empty()) hdrs = curl_slist_append(hdrs, tls_req.host_header.c_str());
  char errbuf[CURL_ERROR_SIZE] = {0};
  curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, hdrs);
  curl_easy_setopt(e, CURLOPT_USERAGENT, config_.user_agent.c_str());
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
  if (timeout.count() > 0)
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
  curl_easy_setopt(e, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_1_1);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, &Call::onWrite);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, &call);
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, errbuf);
  if (!config_.proxy_url.empty() || !config_.proxy_from_environment) {
    curl_easy_setopt(e, CURLOPT_PROXY, config_.proxy_url.c_str());  // "" disables proxies
  }
  curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
  if (!config_.username.empty()) {
    curl_easy_setopt(e, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
    curl_easy_setopt(e, CURLOPT_USERNAME, config_.username.c_str());
    curl_easy_setopt(e, CURLOPT_PASSWORD, config_.password.c_str());
  }
  requests_.fetch_add(1, std::memory_order_relaxed);
  curl_multi_add_handle(m, e);
  if (cancel != nullptr) cancel->attach(m);
  CURLcode result = CURLE_OK;
  bool done = false, idle = false;
  while (!done) {
    if (cancel != nullptr && cancel->cancelled()) break;
    int running = 0;
    curl_multi_perform(m, &running);
    int left = 0;
    while (CURLMsg* msg = curl_multi_info_read(m, &left)) {
      if (msg->msg == CURLMSG_DONE) {
        result = msg->data.result;
        done = true;
      }
    }
    if (done) break;
    if (idle_timeout.count() > 0 &&
        std::chrono::steady_clock::now() - call.last_data > idle_timeout) {
      idle = true;
      break;
    }
    curl_multi_poll(m, nullptr, 0, 1000, nullptr);
  }
  if (cancel != nullptr) cancel->detach(m);
  long code = 0;
  curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code);
  curl_multi_remove_handle(m, e);
  curl_easy_cleanup(e);
  curl_multi_cleanup(m);
  curl_slist_free_all(hdrs);
  call.easy = nullptr;
  if (!done) {
    if (idle) {
      return absl::UnavailableError(
          strCat("GET ", url, ": no data for ", idle_timeout.count(), " ms"));
    }
    return absl::CancelledError("cancelled");
  }
  if (call.too_big) {
    return absl::ResourceExhaustedError(
        strCat("GET ", url, ": response larger than ", call.max_body, " bytes"));
  }
  if (result != CURLE_OK && !(result == CURLE_WRITE_ERROR && call.stopped)) {
    return absl::UnavailableError(
        strCat("GET ", url, ": ", errbuf[0] != '\0' ? errbuf : curl_easy_strerror(result)));
  }
  return static_cast<int>(code);
}

absl::StatusOr<int> Client::performWithAuthRetry(std::string_view path, Call& call, Cancel* cancel,
                                                 std::chrono::milliseconds timeout,
                                                 std::chrono::milliseconds idle_timeout) {
  auto st = perform(path, call, cancel, timeout, idle_timeout);
  if (st.ok() && *st == 401 && !config_.bearer_token_file.empty()) {
    // The token may have been rotated since it was last read.
    if (call.error_body != nullptr) call.error_body->clear();
    if (call.body != nullptr) call.body->clear();
    call.force_token = true;
    st = perform(path, call, cancel, timeout, idle_timeout);
    call.force_token = false;
  }
  return st;
}

absl::StatusOr<Response> Client::get(std::string_view path_and_query, Cancel* cancel,
                                     std::chrono::milliseconds timeout) {
  Response r;
  std::string err;
  Call call;
  call.body = &r.body;
  call.max_body = options_.max_body;
  call.error_body = &err;
  auto st = performWithAuthRetry(path_and_query, call, cancel, timeout, {});
  if (!st.ok()) return st.status();
  r.status = *st;
  if (r.status < 200 || r.status >= 300) r.body = std::move(err);
  return r;
}

absl::StatusOr<int> Client::stream(std::string_view path_and_query,
                                   const std::function<bool(std::string_view)>& on_data,
                                   Cancel* cancel, std::chrono::milliseconds timeout,
                                   std::string* error_body,
                                   std::chrono::milliseconds idle_timeout) {
  std::string err;
  Call call;
  call.on_data = &on_data;
  call.error_body = error_body != nullptr ? error_body : &err;
  return performWithAuthRetry(path_and_query, call, cancel, timeout, idle_timeout);
}

absl::Status Client::streamPodLogs(const PodLogOptions& o,
                                   const std::function<bool(std::string_view)>& on_chunk,
                                   Cancel* cancel) {
  std::string path =
      strCat("/api/v1/namespaces/", urlEncode(o.namespace_), "/pods/", urlEncode(o.pod), "/log?");
  std::vector<std::string> q;
  if (!o.container.empty()) q.push_back(strCat("container=", urlEncode(o.container)));
  if (o.follow) q.push_back("follow=true");
  if (o.timestamps) q.push_back("timestamps=true");
  if (!o.since_time.empty()) q.push_back(strCat("sinceTime=", urlEncode(o.since_time)));
  if (o.tail_lines) q.push_back(strCat("tailLines=", *o.tail_lines));
  if (o.limit_bytes) q.push_back(strCat("limitBytes=", *o.limit_bytes));
  path += strJoin(q, "&");
  std::string err;
  auto st = stream(path, on_chunk, cancel, std::chrono::milliseconds(0), &err);
  if (!st.ok()) return st.status();
  int code = *st;
  if (code >= 200 && code < 300) return absl::OkStatus();
  std::string msg =
      strCat("pod logs ", o.namespace_, "/", o.pod, ": HTTP ", code, ": ", statusMessage(err));
  switch (code) {
    case 400:
      return absl::InvalidArgumentError(msg);
    case 401:
      return absl::UnauthenticatedError(msg);
    case 403:
      return absl::PermissionDeniedError(msg);
    case 404:
      return absl::NotFoundError(msg);
    default:
      return absl::UnavailableError(msg);
  }
}

}  // namespace telegate::k8s
