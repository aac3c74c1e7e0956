// The multi-rank GoogleTest binary: ctest runs it under `mpirun -np N`. Every rank runs every test; rank 0
// prints the usual report, other ranks print only their failures, and the exit code is non-zero when any rank
// failed (77 when every test skipped everywhere). A test that desynchronises the ranks ends through the
// watchdog (60 s) with the collective named.
#include <gtest/gtest.h>

#include <cstdio>

#include "core/comm/bootstrap.h"
#include "core/comm/mpi_check.h"
#include "core/runtime/logging.h"
#include "tests/multirank/multirank.h"

namespace trident::test {
namespace {

std::unique_ptr<comm::Communicator> g_world;

class FailurePrinter : public ::testing::EmptyTestEventListener {
 public:
  explicit FailurePrinter(int rank) : rank_(rank) {}
  void OnTestPartResult(const ::testing::TestPartResult& r) override {
    if (!r.failed()) return;
    std::fprintf(stderr, "[rank %d] %s:%d: failure\n%s\n", rank_, r.file_name() ? r.file_name() : "?",
                 r.line_number(), r.summary());
  }

 private:
  int rank_;
};

}  // namespace

comm::Communicator& world() {
  return *g_world;
}

}  // namespace trident::test

int main(int argc, char** argv) {
  trident::init_logging();
  auto options = trident::comm::CommOptions::from_env();
  options.timeout_s = 60;
  trident::comm::Runtime runtime(options);
  ::testing::InitGoogleTest(&argc, argv);
  trident::test::g_world = runtime.world();
  const int rank = runtime.world_rank();
  if (rank != 0) {
    auto& listeners = ::testing::UnitTest::GetInstance()->listeners();
    delete listeners.Release(listeners.default_result_printer());
    listeners.Append(new trident::test::FailurePrinter(rank));
  }
  // Failed on any rank: 1. Every test skipped on every rank (e.g. no GPU): kSkipped, which ctest reports as
  // skipped (SKIP_RETURN_CODE), not passed. Otherwise 0.
  int status[2] = {RUN_ALL_TESTS() != 0, ::testing::UnitTest::GetInstance()->successful_test_count() > 0};
  int any[2] = {status[0], status[1]};
  if (runtime.mpi()) TRIDENT_MPI_CHECK(MPI_Allreduce(status, any, 2, MPI_INT, MPI_MAX, MPI_COMM_WORLD));
  trident::test::g_world.reset();
  constexpr int kSkipped = 77;
  return any[0] ? 1 : any[1] ? 0 : kSkipped;
}
