#include "core/comm/comm_checks.h"

#include <fmt/format.h>

namespace trident::comm::checks {
namespace {

void defined(const Communicator& c, const char* op, const char* what, const Tensor& t) {
  if (!t.defined()) fail("{} on '{}': {} is an undefined tensor", op, c.name(), what);
}

void same_dtype(const Communicator& c, const char* op, const Tensor& out, const Tensor& in) {
  if (out.dtype() != in.dtype()) {
    fail("{} on '{}': out is {} but in is {}", op, c.name(), dtype_name(out.dtype()), dtype_name(in.dtype()));
  }
}

}  // namespace

void all_reduce(const Communicator& c, const Tensor& t) {
  defined(c, "all_reduce", "t", t);
}

void reduce_scatter(const Communicator& c, const Tensor& out, const Tensor& in) {
  defined(c, "reduce_scatter", "out", out);
  defined(c, "reduce_scatter", "in", in);
  same_dtype(c, "reduce_scatter", out, in);
  if (in.numel() != c.size() * out.numel()) {
    fail("reduce_scatter on '{}': in has {} elements, expected size ({}) x out ({}) = {}", c.name(),
         in.numel(), c.size(), out.numel(), c.size() * out.numel());
  }
}

void all_gather(const Communicator& c, const Tensor& out, const Tensor& in) {
  defined(c, "all_gather", "out", out);
  defined(c, "all_gather", "in", in);
  same_dtype(c, "all_gather", out, in);
  if (out.numel() != c.size() * in.numel()) {
    fail("all_gather on '{}': out has {} elements, expected size ({}) x in ({}) = {}", c.name(), out.numel(),
         c.size(), in.numel(), c.size() * in.numel());
  }
}

void broadcast(const Communicator& c, const Tensor& t, int root) {
  defined(c, "broadcast", "t", t);
  if (root < 0 || root >= c.size())
    fail("broadcast on '{}': root {} is not a rank of {}", c.name(), root, c.size());
}

void peer(const Communicator& c, const char* op, const Tensor& t, int peer) {
  defined(c, op, "t", t);
  if (peer < 0 || peer >= c.size() || peer == c.rank()) {
    fail("{} on '{}': peer {} is not another rank of this group of {} (this rank is {})", op, c.name(), peer,
         c.size(), c.rank());
  }
}

void all_to_all(const Communicator& c, const Tensor& out, const Tensor& in) {
  defined(c, "all_to_all", "out", out);
  defined(c, "all_to_all", "in", in);
  same_dtype(c, "all_to_all", out, in);
  if (in.numel() != out.numel() || in.numel() % c.size() != 0) {
    fail(
        "all_to_all on '{}': in ({}) and out ({}) must hold the same number of elements, a multiple of size "
        "({})",
        c.name(), in.numel(), out.numel(), c.size());
  }
}

static void counts(const Communicator& c, const char* which, const std::vector<int64_t>& counts,
                   const Tensor& t) {
  if (static_cast<int>(counts.size()) != c.size()) {
    fail("all_to_allv on '{}': {} has {} entries, expected one per rank ({})", c.name(), which, counts.size(),
         c.size());
  }
  int64_t total = 0;
  for (size_t i = 0; i < counts.size(); ++i) {
    if (counts[i] < 0) fail("all_to_allv on '{}': {}[{}] = {} is negative", c.name(), which, i, counts[i]);
    total += counts[i];
  }
  if (total != t.numel()) {
    fail("all_to_allv on '{}': {} add up to {} elements, but the tensor holds {}", c.name(), which, total,
         t.numel());
  }
}

void all_to_allv(const Communicator& c, const Tensor& out, const std::vector<int64_t>& recv_counts,
                 const Tensor& in, const std::vector<int64_t>& send_counts) {
  defined(c, "all_to_allv", "out", out);
  defined(c, "all_to_allv", "in", in);
  same_dtype(c, "all_to_allv", out, in);
  counts(c, "send_counts", send_counts, in);
  counts(c, "recv_counts", recv_counts, out);
}

void split(const Communicator& c, const std::vector<int>& ranks) {
  bool ok = !ranks.empty();
  bool mine = false;
  for (size_t i = 0; i < ranks.size() && ok; ++i) {
    ok = ranks[i] >= 0 && ranks[i] < c.size() && (i == 0 || ranks[i] > ranks[i - 1]);
    mine = mine || ranks[i] == c.rank();
  }
  if (!ok || !mine) {
    fail("split of '{}': ranks [{}] must be ascending ranks of this group of {} that include this rank ({})",
         c.name(), fmt::join(ranks, ","), c.size(), c.rank());
  }
}

}  // namespace trident::comm::checks
