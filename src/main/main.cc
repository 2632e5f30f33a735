// telegate: an authenticated telemetry gateway that runs Grafana Alloy configurations.
#include "src/main/app.h"

int main(int argc, char** argv) {
  return telegate::appMain(argc, argv);
}
