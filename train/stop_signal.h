#pragma once
// `trident train --save-on-exit`: SIGTERM or SIGINT (a scheduler's preemption notice, Ctrl-C) asks the run to
// finish its step, save a checkpoint and exit 0, instead of dying mid-step. The handler only records the
// signal; the trainer looks at the end of every step, and every rank agrees before any of them stops.
namespace trident {

// Routes SIGTERM and SIGINT to the flag below (a second signal of the same kind ends the process at once).
void install_stop_handlers();
// Whether this process received SIGTERM or SIGINT since install_stop_handlers().
bool stop_signalled();
// "SIGTERM", "SIGINT", or "a signal on another rank" when none came here.
const char* stop_signal_name();

}  // namespace trident
