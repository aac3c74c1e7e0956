// trident bench comm: collective bandwidth in the format nccl-tests users know. Run it under mpirun; rank 0
// prints one row per size: time, algorithm bandwidth (bytes / time) and bus bandwidth (algbw times the
// op's factor: 2(n-1)/n for all-reduce, (n-1)/n for reduce-scatter, all-gather and all-to-all, 1 for
// broadcast and send/recv), which is comparable across ranks counts and with the link's peak.
#include <fmt/format.h>

#include <chrono>
#include <memory>

#include "core/comm/bootstrap.h"
#ifdef TRIDENT_WITH_CUDA
#include "core/comm/nccl_communicator.h"
#endif
#include "tools/cli/commands.h"

namespace trident::cli {

namespace {

struct CommBenchArgs {
  std::vector<std::string> ops{"all_reduce", "reduce_scatter", "all_gather",
                               "broadcast",  "all_to_all",     "sendrecv"};
  std::string min_bytes = "8", max_bytes = "64M";
  int factor = 2, iters = 20, warmup = 5;
  std::string backend = "mpi";  // mpi (host memory) | nccl (device memory, CUDA builds)
};

// "64", "16K", "64M", "1G" -> bytes.
int64_t parse_bytes(const std::string& text) {
  size_t used = 0;
  double value = 0;
  try {
    value = std::stod(text, &used);
  } catch (const std::exception&) {
    fail("bench comm: '{}' is not a size (examples: 8, 16K, 64M, 1G)", text);
  }
  const std::string suffix = text.substr(used);
  const double scale = suffix.empty()  ? 1.0
                       : suffix == "K" ? 1024.0
                       : suffix == "M" ? 1024.0 * 1024
                       : suffix == "G" ? 1024.0 * 1024 * 1024
                                       : -1.0;
  const double bytes = value * scale;
  if (scale < 0 || bytes < 4)
    fail("bench comm: '{}' is not a size of at least 4 bytes (examples: 8, 16K, 64M, 1G)", text);
  return static_cast<int64_t>(bytes);
}

double bus_factor(const std::string& op, int n) {
  if (op == "all_reduce") return 2.0 * (n - 1) / n;
  if (op == "broadcast" || op == "sendrecv") return 1.0;
  return static_cast<double>(n - 1) / n;
}

// One timed launch of `op` on `count` f32 elements per rank (the message size nccl-tests reports).
void run_op(comm::Communicator& c, const std::string& op, Tensor& buf, Tensor& big) {
  const int n = c.size(), r = c.rank();
  const int64_t count = buf.numel();
  if (op == "all_reduce") {
    c.all_reduce(buf, comm::ReduceOp::sum);
  } else if (op == "reduce_scatter") {
    Tensor out = buf.flat(0, {count / n});
    c.reduce_scatter(out, buf, comm::ReduceOp::sum);
  } else if (op == "all_gather") {
    Tensor in = buf.flat(0, {count / n});
    c.all_gather(big, in);
  } else if (op == "broadcast") {
    c.broadcast(buf, 0);
  } else if (op == "all_to_all") {
    c.all_to_all(big, buf);
  } else if (op == "sendrecv") {
    // A ring: send to the next rank while receiving from the previous one.
    auto s = c.send_async(buf, (r + 1) % n);
    auto v = c.recv_async(big, (r + n - 1) % n);
    s->wait();
    v->wait();
  } else {
    fail(
        "bench comm: unknown op '{}' (all_reduce, reduce_scatter, all_gather, broadcast, all_to_all, "
        "sendrecv)",
        op);
  }
}

void run_bench_comm(const CommBenchArgs& a) {
  const int64_t min_bytes = parse_bytes(a.min_bytes), max_bytes = parse_bytes(a.max_bytes);
  comm::Runtime runtime;
  auto world = runtime.world();
  Device device = Device::cpu();
  std::unique_ptr<comm::Communicator> nccl;
  if (a.backend == "nccl") {
#ifdef TRIDENT_WITH_CUDA
    device = Device::cuda(comm::local_device());
    nccl = comm::make_nccl_world(*world, device.index);
#else
    fail("bench comm --backend nccl needs the CUDA backend (this build has no nvcc)");
#endif
  }
  comm::Communicator& c = nccl ? *nccl : *world;
  const int n = c.size();
  if (n < 2 && c.rank() == 0) fmt::print("# one rank: launch with mpirun -np N for a meaningful table\n");
  if (c.rank() == 0) {
    fmt::print("# trident bench comm: {} ranks, {} iterations after {} warmup, f32, {}\n", n, a.iters,
               a.warmup, nccl ? "NCCL, device memory" : "MPI, host memory");
  }
  for (const std::string& op : a.ops) {
    if (c.rank() == 0) {
      fmt::print("#\n# {}\n#  {:>12} {:>12} {:>6} {:>6} {:>10} {:>8} {:>8}\n", op, "size", "count", "type",
                 "redop", "time", "algbw", "busbw");
      fmt::print("#  {:>12} {:>12} {:>6} {:>6} {:>10} {:>8} {:>8}\n", "(B)", "(elements)", "", "", "(us)",
                 "(GB/s)", "(GB/s)");
    }
    for (int64_t bytes = min_bytes; bytes <= max_bytes; bytes *= a.factor) {
      // Element count divisible by the rank count, as reduce-scatter and all-gather need.
      const int64_t count = std::max<int64_t>(n, bytes / 4 / n * n);
      // buf: the message; big: the receive side of all-gather, all-to-all and send/recv (count elements).
      Tensor buf = Tensor::empty({count}, DType::f32, device),
             big = Tensor::empty({count}, DType::f32, device);
      buf.fill(1.0);
      big.zero();
      for (int i = 0; i < a.warmup; ++i) run_op(c, op, buf, big);
      c.barrier();
      const auto start = std::chrono::steady_clock::now();
      for (int i = 0; i < a.iters; ++i) run_op(c, op, buf, big);
      Tensor t = Tensor::full(
          {1}, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() / a.iters,
          DType::f64);
      world->all_reduce(t, comm::ReduceOp::max);  // the slowest rank sets the time (host memory: MPI)
      const double s = t.item(0), size = static_cast<double>(count) * 4;
      if (c.rank() == 0) {
        fmt::print("   {:>12} {:>12} {:>6} {:>6} {:>10.1f} {:>8.3f} {:>8.3f}\n", static_cast<int64_t>(size),
                   count, "float", op == "all_reduce" || op == "reduce_scatter" ? "sum" : "none", s * 1e6,
                   size / s / 1e9, size / s / 1e9 * bus_factor(op, n));
      }
    }
  }
}

}  // namespace

void register_bench_comm(CLI::App& bench) {
  auto args = std::make_shared<CommBenchArgs>();
  CLI::App* cmd = bench.add_subcommand("comm", "Collective bandwidth per op and size (nccl-tests format)");
  cmd->add_option("--ops", args->ops, "Ops to time")->capture_default_str();
  cmd->add_option("--min-bytes", args->min_bytes, "Smallest message (8, 16K, 64M, 1G)")
      ->capture_default_str();
  cmd->add_option("--max-bytes", args->max_bytes, "Largest message")->capture_default_str();
  cmd->add_option("--factor", args->factor, "Size step (multiply)")
      ->capture_default_str()
      ->check(CLI::Range(2, 1024));
  cmd->add_option("--iters", args->iters, "Timed iterations per size")
      ->capture_default_str()
      ->check(CLI::Range(1, 100000));
  cmd->add_option("--warmup", args->warmup, "Untimed iterations per size")
      ->capture_default_str()
      ->check(CLI::Range(0, 1000));
  cmd->add_option("--backend", args->backend,
                  "mpi (host memory) or nccl (device memory; CUDA builds, one GPU per rank)")
      ->capture_default_str()
      ->check(CLI::IsMember({"mpi", "nccl"}));
  cmd->footer(
      "Examples:\n  mpirun -np 4 build/trident bench comm --max-bytes 16M\n"
      "  mpirun -np 8 build/trident bench comm --backend nccl --max-bytes 1G");
  cmd->callback([args] { run_bench_comm(*args); });
}

}  // namespace trident::cli
