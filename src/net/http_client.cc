#include "src/net/http_client.h"

#include <curl/curl.h>

#include <cctype>
#include <cstdlib>
#include <ctime>
#include <mutex>

#include "src/common/strings.h"
#include "src/common/version.h"

namespace telegate::net {

namespace {

std::once_flag g_curl_init;

struct CallState {
  HttpClientResponse* resp;
  size_t max_body;
  const HttpClientRequest* req;
  bool refused = false;
};

size_t onBody(char* ptr, size_t size, size_t n, void* user) {
  auto* st = static_cast<CallState*>(user);
  size_t len = size * n;
  if (st->req->on_body) {
    if (st->req->on_body(*st->resp, std::string_view(ptr, len))) return len;
    st->refused = true;
    return 0;  // CURLE_WRITE_ERROR: the transfer stops
  }
  size_t room = st->max_body > st->resp->body.size() ? st->max_body - st->resp->body.size() : 0;
  st->resp->body.append(ptr, std::min(len, room));
  return len;
}

size_t onHeader(char* ptr, size_t size, size_t n, void* user) {
  auto* st = static_cast<CallState*>(user);
  size_t len = size * n;
  std::string_view line(ptr, len);
  if (line.rfind("HTTP/", 0) == 0) {
    st->resp->headers.clear();  // a new response (e.g. after 100 Continue)
    size_t sp = line.find(' ');
    st->resp->status = sp == std::string_view::npos ? 0 : std::atoi(ptr + sp + 1);
    return len;
  }
  size_t colon = line.find(':');
  if (colon == std::string_view::npos) return len;
  std::string name(line.substr(0, colon));
  for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  std::string_view value = line.substr(colon + 1);
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == '\r' || value.back() == '\n' || value.back() == ' ')) {
    value.remove_suffix(1);
  }
  st->resp->headers.emplace_back(std::move(name), std::string(value));
  return len;
}

}  // namespace

std::string_view HttpClientResponse::header(std::string_view lower_name) const {
  for (const auto& [k, v] : headers) {
    if (k == lower_name) return v;
  }
  return {};
}

HttpClient::HttpClient(HttpClientOptions opts)
    : opts_(std::move(opts)),
      tls_(CurlTls::create(opts_.tls)),
      files_(opts_.tls, opts_.tls_files_check_period) {
  std::call_once(g_curl_init, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  if (opts_.user_agent.empty()) opts_.user_agent = strCat("telegate/", kVersion);
}

HttpClient::~HttpClient() {
  for (const Pooled& p : idle_) curl_easy_cleanup(static_cast<CURL*>(p.handle));
}

HttpClient::Pooled HttpClient::acquire() {
  const uint64_t gen = files_.generation();
  std::vector<void*> stale;
  Pooled out{nullptr, gen};
  {
    std::lock_guard<std::mutex> l(mu_);
    while (!idle_.empty()) {
      Pooled p = idle_.back();
      idle_.pop_back();
      if (p.generation == gen) {
        out = p;
        break;
      }
      stale.push_back(p.handle);  // made with TLS files that changed since
    }
  }
  for (void* h : stale) curl_easy_cleanup(static_cast<CURL*>(h));
  if (out.handle == nullptr) out.handle = curl_easy_init();
  return out;
}

void HttpClient::release(Pooled p) {
  if (p.generation != files_.generation()) {
    curl_easy_cleanup(static_cast<CURL*>(p.handle));
    return;
  }
  std::lock_guard<std::mutex> l(mu_);
  idle_.push_back(p);
}

absl::StatusOr<HttpClientResponse> HttpClient::send(const HttpClientRequest& req) {
  if (!tls_.ok()) return absl::FailedPreconditionError(strCat("tls: ", tls_.status().message()));
  Pooled pooled = acquire();
  CURL* c = static_cast<CURL*>(pooled.handle);
  if (c == nullptr) return absl::InternalError("curl_easy_init failed");
  curl_easy_reset(c);
  CurlTlsRequest tls_req;
  if (auto st = (*tls_)->apply(c, req.url, &tls_req); !st.ok()) {
    release(pooled);
    return st;
  }
  HttpClientResponse resp;
  CallState st{&resp, opts_.max_response_body, &req};
  curl_slist* hdrs = nullptr;
  for (const auto& [k, v] : req.headers) hdrs = curl_slist_append(hdrs, strCat(k, ": ", v).c_str());
  hdrs = curl_slist_append(hdrs, "Expect:");  // no 100-continue round trip
  if (!tls_req.host_header.empty()) hdrs = curl_slist_append(hdrs, tls_req.host_header.c_str());
  char errbuf[CURL_ERROR_SIZE] = {0};
  curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, req.method.c_str());
  if (req.method == "POST" || req.method == "PUT") {
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, req.body.data());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(req.body.size()));
  } else if (req.method == "GET") {
    curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
  }
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
  curl_easy_setopt(c, CURLOPT_USERAGENT, opts_.user_agent.c_str());
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(req.timeout.count()));
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(std::min<int64_t>(req.timeout.count(), 10000)));
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, onBody);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &st);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, onHeader);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &st);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(c, CURLOPT_HTTP_VERSION,
                   opts_.http2 ? CURL_HTTP_VERSION_2TLS : CURL_HTTP_VERSION_1_1);
  curl_easy_setopt(c, CURLOPT_PROXY, opts_.proxy_url.c_str());
  CURLcode rc = curl_easy_perform(c);
  long code = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
  curl_slist_free_all(hdrs);
  release(pooled);
  if (st.refused) return absl::AbortedError("response body refused by the caller");
  if (rc != CURLE_OK) {
    return absl::UnavailableError(strCat(req.method, " ", req.url, ": ",
                                         errbuf[0] != '\0' ? errbuf : curl_easy_strerror(rc)));
  }
  resp.status = static_cast<int>(code);
  return resp;
}

std::optional<std::chrono::seconds> parseRetryAfter(std::string_view value,
                                                    std::chrono::system_clock::time_point now) {
  while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  while (!value.empty() && value.back() == ' ') value.remove_suffix(1);
  if (value.empty()) return std::nullopt;
  bool digits = true;
  for (char ch : value) digits = digits && std::isdigit(static_cast<unsigned char>(ch));
  if (digits) {
    if (value.size() > 9) return std::chrono::seconds(999999999);
    return std::chrono::seconds(std::stol(std::string(value)));
  }
  // IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT".
  std::tm tm{};
  std::string s(value);
  if (strptime(s.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm) == nullptr) return std::nullopt;
  time_t t = timegm(&tm);
  auto when = std::chrono::system_clock::from_time_t(t);
  if (when <= now) return std::chrono::seconds(0);
  return std::chrono::duration_cast<std::chrono::seconds>(when - now);
}

}  // namespace telegate::net
