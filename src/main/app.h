// The telegate command line: run, fmt, validate (Alloy-compatible flags).
//
// Contract: appMain() parses argv, runs the chosen command and returns the process exit code:
// 0 success, 1 configuration or runtime error, 2 usage error. `run` blocks until SIGINT/SIGTERM
// and reloads on SIGHUP; it must be called from the main thread before any other thread starts.
#pragma once

namespace telegate {

int appMain(int argc, char** argv);

}  // namespace telegate
