// A program that goes wrong on purpose, for the watchdog tests (run under mpirun -np 2 by expect_failure.sh):
//   hang_main hang     rank 1 skips the all_reduce that rank 0 enters; the watchdog (2 s) must end the job
//                      and name the collective, the group, the sequence number and the rank, and rank 1 as
//                      the one that never entered it (its watchdog thread answers rank 0's roll call).
//   hang_main diverge  verify mode: rank 1 calls broadcast while rank 0 calls all_reduce; both must report
//                      that the ranks disagree, naming each one's op.
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>

#include "core/comm/bootstrap.h"
#include "core/runtime/logging.h"

using namespace trident;

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  if (mode != "hang" && mode != "diverge") {
    std::fprintf(stderr, "usage: hang_main hang|diverge\n");
    return 2;
  }
  init_logging();
  comm::CommOptions options = comm::CommOptions::from_env();
  options.timeout_s = 2;
  options.verify_sequence = mode == "diverge";
  try {
    comm::Runtime runtime(options);
    auto world = runtime.world();
    Tensor t = Tensor::full({1024}, 1.0);
    for (int i = 0; i < 4; ++i) world->all_reduce(t, comm::ReduceOp::sum);  // #1..#4 agree
    if (mode == "hang") {
      if (world->rank() == 1) {
        std::this_thread::sleep_for(std::chrono::seconds(60));  // never reaches #5
      } else {
        world->all_reduce(t, comm::ReduceOp::sum);  // #5: waits for rank 1 until the watchdog ends the job
      }
    } else {
      try {
        if (world->rank() == 1) {
          world->broadcast(t, 0);
        } else {
          world->all_reduce(t, comm::ReduceOp::sum);
        }
      } catch (const Error& e) {
        // Every rank found the disagreement together; let each one print it before mpirun ends the job.
        std::fprintf(stderr, "trident: error: %s\n", e.what());
        world->barrier();
        return 1;
      }
    }
    std::fprintf(stderr, "hang_main: rank %d got past the broken collective\n", world->rank());
    return 0;
  } catch (const Error& e) {
    std::fprintf(stderr, "trident: error: %s\n", e.what());
    return 1;
  }
}
