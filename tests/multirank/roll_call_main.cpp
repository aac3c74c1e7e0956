// A program where ranks go missing from a collective on purpose, for the watchdog's roll call (run under
// mpirun -np 4 by expect_failure.sh; comm timeout 2 s). Every rank runs collectives #1..#4 together, then:
//   roll_call_main stop 3      rank 3 stops itself (SIGSTOP) instead of entering world's #5, as a process
//                              stopped on another node would: nothing of it answers. The ranks that wait in
//                              #5 must name rank 3, and only it, as never having entered it.
//   roll_call_main stop 1,3    the same with two stopped ranks.
//   roll_call_main sleep 2     two communicators named 'world': the first runs 9 collectives, the second 4;
//                              rank 2 sleeps (alive, its watchdog thread answers) instead of entering the
//                              second one's #5. The others must name rank 2 as having last started #4 there,
//                              which they only learn if ranks tell the two 'world's apart.
//   roll_call_main split 3     the group 'odd[1,3]' split from world: rank 3 stops instead of entering
//                              its #5; rank 1 must name rank 3 (ranks 0 and 2 finish 'even[0,2]', sleep).
//   roll_call_main chain 2     a chain: rank 0 waits for rank 1 in 'a[0,1]', rank 1 waits for rank 2 in
//                              'b[1,2]', rank 2 stops (rank 3 sleeps). Rank 1 must name rank 2; rank 0,
//                              whose report would name rank 1, which only waits elsewhere, holds it back
//                              so that rank 1's report of the cause ends the job.
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "core/comm/bootstrap.h"
#include "core/runtime/logging.h"

using namespace trident;

namespace {

std::vector<int> parse_ranks(const std::string& list) {
  std::vector<int> ranks;
  std::stringstream in(list);
  for (std::string item; std::getline(in, item, ',');) ranks.push_back(std::stoi(item));
  return ranks;
}

bool contains(const std::vector<int>& ranks, int r) {
  return std::find(ranks.begin(), ranks.end(), r) != ranks.end();
}

void run_collectives(comm::Communicator& group, int n) {
  Tensor t = Tensor::full({1024}, 1.0);
  for (int i = 0; i < n; ++i) group.all_reduce(t, comm::ReduceOp::sum);
}

// Instead of entering the collective: stop (as SIGSTOP from outside would) or sleep well past the timeout.
void go_missing(bool stop) {
  std::fflush(stderr);
  if (stop) raise(SIGSTOP);
  std::this_thread::sleep_for(std::chrono::seconds(60));
}

// Ranks 0, 1 in 'a[0,1]' and 1, 2 in 'b[1,2]' (2, 3 in 'a[2,3]'; 0 and 3 alone in 'b[0]', 'b[3]'): each
// group runs #1..#4, then rank 0 enters #5 of 'a[0,1]', rank 1 #5 of 'b[1,2]', rank 2 stops, rank 3 sleeps.
void chain(comm::Communicator& world) {
  const int r = world.rank();
  auto a = world.split(r < 2 ? std::vector<int>{0, 1} : std::vector<int>{2, 3}, r < 2 ? "a[0,1]" : "a[2,3]");
  std::vector<int> b_ranks = {1, 2};
  std::string b_name = "b[1,2]";
  if (r == 0 || r == 3) {
    b_ranks = {r};
    b_name = fmt::format("b[{}]", r);
  }
  auto b = world.split(b_ranks, b_name);
  run_collectives(*a, 4);
  run_collectives(*b, 4);
  if (r == 2 || r == 3) go_missing(r == 2);
  run_collectives(r == 0 ? *a : *b, 1);
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 2 ? argv[1] : "";
  if (mode != "stop" && mode != "sleep" && mode != "split" && mode != "chain") {
    std::fprintf(stderr, "usage: roll_call_main stop|sleep|split|chain RANK[,RANK...]\n");
    return 2;
  }
  const std::vector<int> missing = parse_ranks(argv[2]);
  init_logging();
  comm::CommOptions options = comm::CommOptions::from_env();
  options.timeout_s = 2;
  try {
    comm::Runtime runtime(options);
    auto world = runtime.world();
    const bool gone = contains(missing, world->rank());
    std::unique_ptr<comm::Communicator> group;
    if (mode == "stop") {
      group = std::move(world);
    } else if (mode == "sleep") {
      run_collectives(*world, 9);
      group = runtime.world();  // a second 'world', with sequence numbers of its own
    } else if (mode == "chain") {
      chain(*world);
    } else {
      const bool odd = world->rank() % 2 == 1;
      group =
          world->split(odd ? std::vector<int>{1, 3} : std::vector<int>{0, 2}, odd ? "odd[1,3]" : "even[0,2]");
      if (!odd) {  // out of the way: only rank 1 waits for rank 3
        run_collectives(*group, 5);
        go_missing(false);
      }
    }
    run_collectives(*group, 4);  // #1..#4 agree
    if (gone) go_missing(mode != "sleep");
    run_collectives(*group, 1);  // #5: waits for the missing ranks until the watchdog ends the job
    std::fprintf(stderr, "roll_call_main: rank %d got past the collective that ranks missed\n",
                 group->global_rank());
    return 0;
  } catch (const Error& e) {
    std::fprintf(stderr, "trident: error: %s\n", e.what());
    return 1;
  }
}
