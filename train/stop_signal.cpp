#include "train/stop_signal.h"

#include <csignal>

namespace trident {

namespace {

volatile std::sig_atomic_t g_signal = 0;

void on_signal(int sig) {
  if (g_signal == sig) {  // asked twice: stop now, with the conventional status
    std::signal(sig, SIG_DFL);
    std::raise(sig);
  }
  g_signal = sig;
}

}  // namespace

void install_stop_handlers() {
  std::signal(SIGTERM, on_signal);
  std::signal(SIGINT, on_signal);
}

bool stop_signalled() {
  return g_signal != 0;
}

const char* stop_signal_name() {
  return g_signal == SIGTERM ? "SIGTERM" : g_signal == SIGINT ? "SIGINT" : "a signal on another rank";
}

}  // namespace trident
