// sluice-model-server: the test model server (model_server.h) as a process, for end-to-end
// tests that kill it mid-run, the scoring examples and bench/scoring_latency.sh.
//   sluice-model-server [--port N] [--delay-ms N] [--model-version V]
// Prints "listening on PORT" once it accepts connections; runs until killed.
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "scoring/testing/model_server.h"

int main(int argc, char** argv) {
  sluice::testing_scoring::ModelServer server;
  int port = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--port") == 0) {
      port = std::atoi(argv[i + 1]);
    } else if (std::strcmp(argv[i], "--delay-ms") == 0) {
      server.delay_ms = std::atoi(argv[i + 1]);
    } else if (std::strcmp(argv[i], "--model-version") == 0) {
      server.model_version = argv[i + 1];
    } else {
      std::fprintf(stderr, "sluice-model-server: unknown option %s\n", argv[i]);
      return 2;
    }
  }
  const int bound = server.start(port);
  if (bound < 0) {
    std::fprintf(stderr, "sluice-model-server: cannot listen on 127.0.0.1:%d\n", port);
    return 1;
  }
  std::printf("listening on %d\n", bound);
  std::fflush(stdout);
  server.wait();
  return 0;
}
