// Checks server configs as the server reads them (LoadServerConfig): for each path argument,
// prints "ok: PATH" or the error, and exits 1 if any failed. Used by the Helm chart's test on the
// configs its templates render.
#include <iostream>

#include "server/config.h"

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: check_server_config CONFIG.textproto...\n";
    return 2;
  }
  int failed = 0;
  for (int i = 1; i < argc; ++i) {
    const auto config = videogen::server::LoadServerConfig(argv[i]);
    if (config.ok()) {
      std::cout << "ok: " << argv[i] << "\n";
    } else {
      std::cerr << argv[i] << ": " << config.status() << "\n";
      ++failed;
    }
  }
  return failed == 0 ? 0 : 1;
}
