// The whole transformer over a tensor-parallel group of all ranks, against the same model on one rank.
//
// Equivalence in f64: both start from the same global weights (initialisation depends only on seed, name and
// global index), see the same tokens, and must give the same loss, logits and, after the partial sums the
// parameters declare (zero/partial_grads.h), every gradient element (through ShardSpec::global_index) and the
// same global gradient norm, to 1e-10. GPT-2 and LLaMA (one key/value head, so it is replicated on every
// rank), with and without sequence parallelism.
//
// Communication volume: from the communicator's log, the collectives one transformer block adds per
// micro-batch (a two-block model minus a one-block model) match Megatron's accounting (Korthikanti et al.
// 2022, section 4.2): forward 2 all-reduces of B*T*C without sequence parallelism, 2 all-gathers + 2
// reduce-scatters of B*T*C with it — the same bytes on a ring.
#include <cmath>
#include <map>
#include <string>

#include "models/transformer.h"
#include "tensor_parallel/sharded_params.h"
#include "tests/multirank/multirank.h"
#include "zero/partial_grads.h"

namespace trident::test {
namespace {

constexpr int64_t kB = 2, kT = 12;  // N = 24 token rows: divisible by 2, 3, 4 and 8 ranks

// Every dimension that splits is a multiple of 24, so np 2, 3, 4 and 8 all split evenly.
models::ModelSpec tiny_spec(bool llama, int layers, bool sequence_parallel) {
  models::ModelSpec s;
  s.arch = llama ? models::Arch::llama : models::Arch::gpt2;
  s.n_layer = layers;
  s.d_model = 96;
  s.n_head = 24;
  s.n_kv_head = llama ? 1 : 24;
  s.head_dim = 4;
  s.d_ff = 192;
  s.vocab = 45;         // not a multiple of any tp: the last rank's columns hold padding
  s.padded_vocab = 48;  // a multiple of 2, 3, 4 and 8
  s.max_seq_len = 16;
  s.tie_embeddings = !llama;
  s.dtype = DType::f64;
  s.sequence_parallel = sequence_parallel;
  return s;
}

// (B, T) ids: tokens below vocab, targets with one ignored position.
void batch(Tensor& tokens, Tensor& targets, int64_t vocab) {
  tokens = Tensor::empty({kB, kT}, DType::i32);
  targets = Tensor::empty({kB, kT}, DType::i32);
  for (int64_t i = 0; i < kB * kT; ++i) {
    tokens.data<int32_t>()[i] = static_cast<int32_t>((7 * i + 3) % vocab);
    targets.data<int32_t>()[i] = i == 5 ? -1 : static_cast<int32_t>((11 * i + 1) % vocab);
  }
}

void expect_near_rel(double got, double want, const std::string& what) {
  EXPECT_NEAR(got, want, 1e-10 * std::max(1.0, std::abs(want))) << what << " (rank " << world().rank() << ")";
}

void check_equivalence(bool llama, bool sp) {
  SCOPED_TRACE(std::string(llama ? "llama" : "gpt2") + (sp ? " sequence-parallel" : ""));
  models::Transformer ref(tiny_spec(llama, 2, sp));
  models::Transformer par(tiny_spec(llama, 2, sp), tp::TpGroup::of(world()));
  ref.params().initialize(7);
  par.params().initialize(7);
  Tensor tokens, targets;
  batch(tokens, targets, ref.spec().vocab);

  // Two micro-batches accumulated, so replicated and partial gradients are summed once, not per micro-batch.
  models::ModelActs ref_acts, par_acts;
  double ref_loss = 0, par_loss = 0;
  for (int micro = 0; micro < 2; ++micro) {
    ref_loss = ref.forward(ref_acts, tokens, targets);
    par_loss = par.forward(par_acts, tokens, targets);
    const Tensor ref_row = ref.logits_row(ref_acts, 7), par_row = par.logits_row(par_acts, 7);
    ASSERT_EQ(par_row.numel(), ref_row.numel());
    for (int64_t v = 0; v < ref_row.numel(); ++v) expect_near_rel(par_row.item(v), ref_row.item(v), "logit");
    ref.backward(ref_acts, 0.5);
    par.backward(par_acts, 0.5);
  }
  expect_near_rel(par_loss, ref_loss, "loss");
  // The partial sums the parameters declare (sequence-parallel norms, replicated key/value heads).
  zero::PartialGrads(par.params(), tp::TpGroup::of(world())).sum(par.params());
  for (const Param& p : par.params().params()) {
    const Param& r = ref.params().get(p.name);
    ASSERT_EQ(p.global_shape, r.global_shape) << p.name;
    for (int64_t i = 0; i < p.grad.numel(); ++i) {
      expect_near_rel(p.grad.item(i), r.grad.item(p.shard.global_index(p.global_shape, i)),
                      p.name + ".grad[" + std::to_string(i) + "]");
    }
  }
  expect_near_rel(std::sqrt(tp::grad_squares(par.params(), tp::TpGroup::of(world()))),
                  std::sqrt(tp::grad_squares(ref.params(), {})), "grad norm");
  // Gathered weights are the single-rank weights.
  const auto gathered = par.gather_params();
  for (const Param& r : ref.params().params()) {
    const Tensor& g = gathered.at(r.name);
    ASSERT_EQ(g.shape(), r.global_shape) << r.name;
    EXPECT_EQ(relative_l2(g, r.value), 0.0) << r.name;
  }
}

TEST(TpModel, Gpt2MatchesSingleRank) {
  check_equivalence(false, false);
}
TEST(TpModel, Gpt2SequenceParallelMatchesSingleRank) {
  check_equivalence(false, true);
}
TEST(TpModel, LlamaReplicatedKvHeadMatchesSingleRank) {
  check_equivalence(true, false);
}
TEST(TpModel, LlamaReplicatedKvHeadSequenceParallelMatchesSingleRank) {
  check_equivalence(true, true);
}

// ---- communication volume -------------------------------------------------------------------------------

struct Volume {
  std::map<std::string, comm::OpTotals> forward, backward;
};

Volume measure(int layers, bool sp) {
  models::Transformer model(tiny_spec(false, layers, sp), tp::TpGroup::of(world()));
  model.params().initialize(1);
  Tensor tokens, targets;
  batch(tokens, targets, model.spec().vocab);
  models::ModelActs acts;
  const comm::CommLog& log = world().log();
  Volume v;
  log.reset_totals();
  model.forward(acts, tokens, targets);
  v.forward = log.totals();
  log.reset_totals();
  model.backward(acts, 1.0);
  v.backward = log.totals();
  return v;
}

// What one block adds: calls and elements per op, two blocks minus one.
std::map<std::string, comm::OpTotals> per_block(const std::map<std::string, comm::OpTotals>& two,
                                                const std::map<std::string, comm::OpTotals>& one) {
  std::map<std::string, comm::OpTotals> out;
  for (const auto& [op, t] : two) {
    comm::OpTotals d = t;
    if (auto it = one.find(op); it != one.end()) {
      d.calls -= it->second.calls;
      d.elements -= it->second.elements;
      d.bytes -= it->second.bytes;
    }
    if (d.calls != 0) out[op] = d;
  }
  return out;
}

// Bytes each rank sends on a ring (Thakur et al.): all-reduce of S bytes 2(p-1)/p S; all-gather to, and
// reduce-scatter from, S bytes (p-1)/p S.
double ring_bytes(const std::map<std::string, comm::OpTotals>& ops, int p) {
  double total = 0;
  for (const auto& [op, t] : ops) {
    if (op == "all_reduce") total += 2.0 * (p - 1) / p * static_cast<double>(t.bytes);
    if (op == "all_gather") total += (p - 1) * static_cast<double>(t.bytes);  // t.bytes is the input: S / p
    if (op == "reduce_scatter") total += (p - 1.0) / p * static_cast<double>(t.bytes);
  }
  return total;
}

TEST(TpModel, CommunicationPerBlockMatchesMegatron) {
  const int p = world().size();
  const int64_t BTC = kB * kT * 96;  // elements of one (B, T, C) activation
  const int64_t bytes = BTC * 8;     // f64

  const auto plain = per_block(measure(2, false).forward, measure(1, false).forward);
  ASSERT_EQ(plain.size(), 1u);
  EXPECT_EQ(plain.at("all_reduce").calls, 2);  // g after attention's and the MLP's row-parallel layer
  EXPECT_EQ(plain.at("all_reduce").elements, 2 * BTC);

  const Volume sp2 = measure(2, true), sp1 = measure(1, true);
  const auto sp = per_block(sp2.forward, sp1.forward);
  ASSERT_EQ(sp.size(), 2u);
  EXPECT_EQ(sp.at("all_gather").calls, 2);  // entering each column-parallel layer
  EXPECT_EQ(sp.at("all_gather").elements, 2 * BTC / p);
  EXPECT_EQ(sp.at("reduce_scatter").calls, 2);  // leaving each row-parallel layer
  EXPECT_EQ(sp.at("reduce_scatter").elements, 2 * BTC);
  EXPECT_DOUBLE_EQ(ring_bytes(sp, p), ring_bytes(plain, p));
  EXPECT_DOUBLE_EQ(ring_bytes(plain, p), 2 * 2.0 * (p - 1) / p * bytes);

  // Backward: f's all-reduce of din at each column-parallel layer; with sequence parallelism the
  // reduce-scatter of din, the all-gather of dout at each row-parallel layer, and the all-gather of the
  // column layer's input again for its weight gradient (Megatron keeps only the sharded input).
  const auto plain_bwd = per_block(measure(2, false).backward, measure(1, false).backward);
  ASSERT_EQ(plain_bwd.size(), 1u);
  EXPECT_EQ(plain_bwd.at("all_reduce").calls, 2);
  EXPECT_EQ(plain_bwd.at("all_reduce").elements, 2 * BTC);
  const auto sp_bwd = per_block(sp2.backward, sp1.backward);
  ASSERT_EQ(sp_bwd.size(), 2u);
  EXPECT_EQ(sp_bwd.at("all_gather").calls, 4);
  EXPECT_EQ(sp_bwd.at("all_gather").elements, 4 * BTC / p);
  EXPECT_EQ(sp_bwd.at("reduce_scatter").calls, 2);
  EXPECT_EQ(sp_bwd.at("reduce_scatter").elements, 2 * BTC);
}

}  // namespace
}  // namespace trident::test
