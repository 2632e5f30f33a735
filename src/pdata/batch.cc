#include "src/pdata/batch.h"

namespace telegate::pdata {

std::string_view signalName(Signal s) {
  switch (s) {
    case Signal::kTraces:
      return "traces";
    case Signal::kMetrics:
      return "metrics";
    case Signal::kLogs:
      return "logs";
  }
  return "unknown";
}

}  // namespace telegate::pdata
