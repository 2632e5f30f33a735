#include "src/main/app.h"

#include <malloc.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "src/admin/admin.h"
#include "src/admin/admin_tls.h"
#include "src/common/log.h"
#include "src/common/memory_budget.h"
#include "src/common/metrics.h"
#include "src/common/version.h"
#include "src/components/all.h"
#include "src/main/embedded_config.h"
#include "src/runtime/controller.h"
#include "src/runtime/docs.h"
#include "src/runtime/types.h"
#include "src/syntax/parser.h"
#include "src/syntax/printer.h"

namespace telegate {

namespace {

using Clock = std::chrono::steady_clock;

absl::StatusOr<std::vector<syntax::SourceFilePtr>> readSources(const std::string& path) {
  if (path.empty()) {
    return std::vector<syntax::SourceFilePtr>{
        std::make_shared<syntax::SourceFile>(kEmbeddedConfigName, kEmbeddedConfig)};
  }
  return runtime::readConfigSources(path);
}

void logWarnings(const runtime::LoadResult& r) {
  for (const auto& d : r.diags.items()) {
    if (d.severity == syntax::Severity::kWarning) {
      log::root().warn("configuration warning", {{"diag", d.toString()}});
    }
  }
}

struct RunFlags {
  std::string config_path;
  std::string listen_addr = "127.0.0.1:12345";
  std::string storage_path = "data-alloy/";
  std::string ui_path_prefix = "/";
  std::string stability_level = "generally-available";
  bool disable_reporting = false;
  bool enable_pprof = true;
  double shutdown_timeout_s = 20;
  std::string memory_limit = "256MiB";  // 0: no limit
};

// Allocator policy for the data path. Requests are allocated on receiver threads and freed on
// batch and exporter threads; with glibc's default dynamic trimming the per-thread pools keep
// returning that memory to the kernel and faulting it back in (6-8% of CPU in the pipeline
// benchmarks). Freed memory is therefore kept until 256 MiB of it is free at a pool's top, and
// blocks up to 32 MiB come from the pools rather than from mmap. So that a burst (large request
// bodies, a backlog) does not keep its memory resident for good, trimMemoryAfterBursts() gives
// free pages back once the memory budget has drained. Setting GLIBC_TUNABLES in the environment
// leaves glibc's own policy in place.
void tuneAllocator() {
  if (std::getenv("GLIBC_TUNABLES") != nullptr) return;
  mallopt(M_TRIM_THRESHOLD, 256 << 20);
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
}

// A background thread that samples the memory budget once a second and calls malloc_trim(0)
// (which returns free pages from every pool, not only a pool's top) when what the budget holds
// has fallen by at least 32 MiB and to at most half of its peak since the last trim. Cheap: one
// atomic load a second, and a trim only after a burst. Runs until the process exits.
void trimMemoryAfterBursts() {
  if (std::getenv("GLIBC_TUNABLES") != nullptr) return;
  std::thread([] {
    constexpr size_t kMinDrop = size_t{32} << 20;
    size_t peak = 0;
    for (;;) {
      std::this_thread::sleep_for(std::chrono::seconds(1));
      const size_t used = globalMemoryBudget().used();
      peak = std::max(peak, used);
      if (peak >= used + kMinDrop && used <= peak / 2) {
        malloc_trim(0);
        peak = used;
      }
    }
  }).detach();
}

// Raises the soft limit on open files to the hard limit: every connection costs a descriptor,
// and the HTTP servers' connection limits (max_connections) assume thousands are available.
void raiseFileLimit() {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= rl.rlim_max) return;
  const rlim_t before = rl.rlim_cur;
  rl.rlim_cur = rl.rlim_max;
  if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
    log::root().warn("could not raise the open files limit",
                     {{"soft", std::to_string(before)}, {"hard", std::to_string(rl.rlim_max)}});
  }
}

int runCommand(const RunFlags& f) {
  tuneAllocator();
  raiseFileLimit();
  // Signals are handled synchronously by this thread; every thread started later inherits the
  // mask, so SIGHUP/SIGINT/SIGTERM are never delivered to a worker.
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGTERM);
  sigaddset(&sigs, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);
  signal(SIGPIPE, SIG_IGN);

  auto memory_limit = runtime::parseByteSize(f.memory_limit);
  if (!memory_limit.ok()) {
    std::fprintf(stderr, "Error: --memory.limit: %s\n",
                 std::string(memory_limit.status().message()).c_str());
    return 1;
  }
  globalMemoryBudget().setLimit(static_cast<size_t>(memory_limit->bytes));
  trimMemoryAfterBursts();

  components::registerAll();
  auto& registry = metrics::defaultRegistry();
  metrics::registerProcessMetrics(registry);
  registry.addCollector([](metrics::Writer& w) {
    const MemoryBudget& b = globalMemoryBudget();
    w.gauge("telegate_memory_budget_used_bytes",
            "Bytes of telemetry held in memory between acceptance and delivery.", {},
            static_cast<double>(b.used()));
    w.gauge("telegate_memory_budget_limit_bytes",
            "The --memory.limit cap on telegate_memory_budget_used_bytes (0: no limit).", {},
            static_cast<double>(b.limit()));
    w.counter("telegate_memory_budget_refusals_total",
              "Reservations refused because the memory limit was reached.", {},
              static_cast<double>(b.refusals()));
  });
  registry.gauge("telegate_build_info", "Build information; the value is always 1.", {"version"})
      .with({kVersion})
      .set(1);

  std::error_code ec;
  std::filesystem::create_directories(f.storage_path, ec);
  if (ec) {
    std::fprintf(stderr, "Error: creating storage path %s: %s\n", f.storage_path.c_str(),
                 ec.message().c_str());
    return 1;
  }
  log::root().info("starting telegate",
                   {{"version", kVersion},
                    {"config", f.config_path.empty() ? kEmbeddedConfigName : f.config_path},
                    {"storage_path", f.storage_path}});

  runtime::ControllerOptions copts;
  copts.storage_path = f.storage_path;
  copts.metrics = &registry;
  // The admin server exists before the first load (probes answer during it); every committed
  // load hands it the root `http` block, so a reload applies access-control changes.
  admin::AdminServer* admin_ptr = nullptr;
  copts.on_http_block = [&admin_ptr](const runtime::HttpBlockArgs& http) {
    if (admin_ptr != nullptr) admin_ptr->setHttpConfig(http);
  };
  runtime::Controller controller(copts);

  // The admin server's TLS comes from the configuration read at startup, before it listens.
  auto sources = readSources(f.config_path);
  if (!sources.ok()) {
    std::fprintf(stderr, "Error: %s\n", std::string(sources.status().message()).c_str());
    return 1;
  }
  auto admin_tls = admin::adminTlsFromSources(*sources, &registry);
  if (!admin_tls.ok()) {
    std::fprintf(stderr, "Error: %s\n", std::string(admin_tls.status().message()).c_str());
    return 1;
  }

  auto reload = [&]() -> admin::ReloadOutcome {
    auto sources = readSources(f.config_path);
    if (!sources.ok()) {
      log::root().error("reload failed", {{"err", std::string(sources.status().message())}});
      return {false, std::string(sources.status().message())};
    }
    if (auto st = admin::checkAdminTlsUnchanged(*admin_tls, *sources); !st.ok()) {
      log::root().error("reload failed; the previous configuration keeps running",
                        {{"err", std::string(st.message())}});
      return {false, std::string(st.message())};
    }
    auto r = controller.load(*sources);
    logWarnings(r);
    if (!r.ok) {
      log::root().error("reload failed; the previous configuration keeps running",
                        {{"err", r.diags.summary()}});
      return {false, r.formatted()};
    }
    log::root().info("configuration reloaded");
    return {true, ""};
  };

  admin::AdminServer admin_server(f.listen_addr, controller, registry, reload, admin_tls->context);
  admin_ptr = &admin_server;
  if (auto st = admin_server.start(); !st.ok()) {
    std::fprintf(stderr, "Error: starting the HTTP server: %s\n",
                 std::string(st.message()).c_str());
    return 1;
  }
  log::root().info("HTTP server listening",
                   {{"addr", admin_server.boundAddress()},
                    {"tls", admin_server.tlsEnabled() ? "true" : "false"}});

  auto first = controller.load(*sources);
  logWarnings(first);
  if (!first.ok) {
    std::fprintf(stderr, "%s\nError: could not perform the initial load successfully\n",
                 first.formatted().c_str());
    admin_server.stop();
    return 1;
  }
  admin_server.setReady(true);
  log::root().info("configuration loaded; telegate is ready");

  while (true) {
    int sig = 0;
    if (sigwait(&sigs, &sig) != 0) continue;
    if (sig == SIGHUP) {
      log::root().info("SIGHUP received, reloading configuration");
      reload();
      continue;
    }
    log::root().info("shutting down", {{"signal", sig == SIGINT ? "SIGINT" : "SIGTERM"}});
    break;
  }
  admin_server.setReady(false);
  auto budget = std::chrono::milliseconds(static_cast<int64_t>(f.shutdown_timeout_s * 1000));
  auto deadline = Clock::now() + budget;
  // Components get the deadline; if one does not honour it, the watchdog ends the process so a
  // stuck shutdown never outlives the orchestrator's grace period.
  std::thread([budget] {
    std::this_thread::sleep_for(budget + std::chrono::seconds(2));
    log::root().error("shutdown deadline exceeded; exiting");
    std::_Exit(1);
  }).detach();
  controller.shutdown(deadline);
  admin_server.stop();
  log::root().info("telegate stopped");
  return 0;
}

int fmtCommand(const std::string& path, bool write) {
  std::string text;
  std::string name = path;
  if (path == "-") {
    std::ostringstream ss;
    ss << std::cin.rdbuf();
    text = ss.str();
    name = "<stdin>";
  } else {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      std::fprintf(stderr, "Error: cannot open %s\n", path.c_str());
      return 1;
    }
    std::ostringstream ss;
    ss << in.rdbuf();
    text = ss.str();
  }
  auto src = std::make_shared<syntax::SourceFile>(name, text);
  syntax::Diagnostics diags;
  auto file = syntax::parseFile(src, &diags);
  if (diags.hasErrors() || !file) {
    std::fprintf(stderr, "%s", syntax::formatDiagnostics(diags, {{name, src}}).c_str());
    return 1;
  }
  std::string out = syntax::format(*file);
  if (write && path != "-") {
    if (out == text) return 0;
    std::string tmp = path + ".tmp-fmt";
    {
      std::ofstream o(tmp, std::ios::binary | std::ios::trunc);
      o << out;
      if (!o) {
        std::fprintf(stderr, "Error: writing %s\n", tmp.c_str());
        return 1;
      }
    }
    std::error_code ec;
    std::filesystem::rename(tmp, path, ec);
    if (ec) {
      std::fprintf(stderr, "Error: replacing %s: %s\n", path.c_str(), ec.message().c_str());
      return 1;
    }
    return 0;
  }
  std::fwrite(out.data(), 1, out.size(), stdout);
  return 0;
}

int validateCommand(const std::string& path) {
  components::registerAll();
  auto sources = readSources(path);
  if (!sources.ok()) {
    std::fprintf(stderr, "Error: %s\n", std::string(sources.status().message()).c_str());
    return 1;
  }
  metrics::Registry scratch;
  runtime::ControllerOptions copts;
  copts.run_components = false;
  copts.metrics = &scratch;
  copts.storage_path = (std::filesystem::temp_directory_path() / "telegate-validate").string();
  runtime::Controller controller(copts);
  auto r = controller.load(*sources);
  if (!r.diags.empty()) std::fprintf(stderr, "%s", r.formatted().c_str());
  if (!r.ok) return 1;
  std::fprintf(stderr, "%s: configuration is valid\n",
               path.empty() ? kEmbeddedConfigName : path.c_str());
  return 0;
}

}  // namespace

int appMain(int argc, char** argv) {
  CLI::App app{
      "telegate: an authenticated telemetry gateway that runs Grafana Alloy "
      "configurations"};
  app.require_subcommand(0, 1);
  app.set_version_flag("--version,-v", std::string("telegate version v") + kVersion);

  RunFlags rf;
  auto* run = app.add_subcommand("run",
                                 "Run telegate with a configuration file or directory "
                                 "(the embedded default when omitted)");
  run->add_option("CONFIG_PATH", rf.config_path, "configuration file or directory of *.alloy");
  run->add_option("--server.http.listen-addr", rf.listen_addr, "address of the admin HTTP server")
      ->capture_default_str();
  run->add_option("--storage.path", rf.storage_path, "base directory for component data")
      ->capture_default_str();
  run->add_option("--server.http.ui-path-prefix", rf.ui_path_prefix,
                  "accepted for Alloy compatibility; the status page is served at /");
  run->add_option("--stability.level", rf.stability_level,
                  "accepted for Alloy compatibility; every component is available");
  run->add_flag("--disable-reporting", rf.disable_reporting,
                "accepted for Alloy compatibility; telegate never reports usage");
  run->add_option("--server.http.enable-pprof", rf.enable_pprof,
                  "accepted for Alloy compatibility; no profiling endpoints are served");
  run->add_option("--shutdown-timeout", rf.shutdown_timeout_s,
                  "seconds to flush and stop on SIGTERM")
      ->capture_default_str();
  run->add_option("--memory.limit", rf.memory_limit,
                  "cap on telemetry held in memory (e.g. 256MiB, 1GiB; 0: no limit); data "
                  "beyond it is refused with 429/503")
      ->capture_default_str();

  std::string fmt_path;
  bool fmt_write = false;
  auto* fmt = app.add_subcommand("fmt", "Print a configuration file in canonical format");
  fmt->add_option("FILE", fmt_path, "file to format (- for standard input)")->required();
  fmt->add_flag("--write,-w", fmt_write, "rewrite the file in place");

  std::string validate_path;
  auto* validate = app.add_subcommand(
      "validate", "Check a configuration without starting any listener (exit 1 on errors)");
  validate->add_option("CONFIG_PATH", validate_path,
                       "configuration file or directory (the embedded default when omitted)");

  auto* docs = app.add_subcommand("docs", "Print the generated component reference (Markdown)");
  docs->group("");  // hidden: used to keep docs/configuration.md in sync

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  if (run->parsed()) return runCommand(rf);
  if (fmt->parsed()) return fmtCommand(fmt_path, fmt_write);
  if (validate->parsed()) return validateCommand(validate_path);
  if (docs->parsed()) {
    components::registerAll();
    std::cout << runtime::componentReference(runtime::Registry::global());
    return 0;
  }
  std::cout << app.help();
  return 0;
}

}  // namespace telegate
