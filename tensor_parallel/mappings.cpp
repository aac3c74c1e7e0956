#include "tensor_parallel/mappings.h"

namespace trident::tp {
namespace {

// in (rows, ...) and out (rows * factor, ...): the element counts a gather or a scatter needs.
void check_blocks(const char* what, const TpGroup& group, const Tensor& full, const Tensor& block) {
  group.check(what);
  TRIDENT_CHECK(full.defined() && block.defined(), "{}: undefined tensor", what);
  TRIDENT_CHECK(full.dtype() == block.dtype(), "{}: {} and {} differ in dtype", what, full.str(),
                block.str());
  TRIDENT_CHECK(full.numel() == block.numel() * group.size,
                "{}: the full tensor {} is not {} blocks of {} (tensor-parallel size {})", what,
                shape_str(full.shape()), group.size, shape_str(block.shape()), group.size);
}

void local_copy(Tensor& out, const Tensor& in) {
  if (out.raw() != in.raw()) out.copy_from(in);
}

}  // namespace

void f_backward(const TpGroup& group, Tensor& dx) {
  group.check("f backward (all-reduce)");
  if (group.size > 1) group.comm->all_reduce(dx, comm::ReduceOp::sum);
}

void g_forward(const TpGroup& group, Tensor& y) {
  group.check("g forward (all-reduce)");
  if (group.size > 1) group.comm->all_reduce(y, comm::ReduceOp::sum);
}

void sp_gather_forward(const TpGroup& group, Tensor& out, const Tensor& in) {
  check_blocks("sequence-parallel all-gather", group, out, in);
  if (group.size == 1) return local_copy(out, in);
  group.comm->all_gather(out, in);
}

void sp_gather_backward(const TpGroup& group, Tensor& din, const Tensor& dout) {
  check_blocks("sequence-parallel reduce-scatter", group, dout, din);
  if (group.size == 1) return local_copy(din, dout);
  group.comm->reduce_scatter(din, dout, comm::ReduceOp::sum);
}

void sp_scatter_forward(const TpGroup& group, Tensor& out, const Tensor& in) {
  check_blocks("sequence-parallel reduce-scatter", group, in, out);
  if (group.size == 1) return local_copy(out, in);
  group.comm->reduce_scatter(out, in, comm::ReduceOp::sum);
}

void sp_scatter_backward(const TpGroup& group, Tensor& din, const Tensor& dout) {
  check_blocks("sequence-parallel all-gather", group, din, dout);
  if (group.size == 1) return local_copy(din, dout);
  group.comm->all_gather(din, dout);
}

Tensor sp_rows(const TpGroup& group, const Tensor& full) {
  const int64_t n = full.dim(0);
  TRIDENT_CHECK(n % group.size == 0, "{} rows of {} do not split over {} sequence-parallel ranks", n,
                full.str(), group.size);
  const int64_t block = n / group.size;
  return full.narrow0(group.rank * block, (group.rank + 1) * block);
}

}  // namespace trident::tp
