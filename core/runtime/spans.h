#pragma once
// Spans: what each module, the optimizer and every collective spent of a step, recorded per process for the
// profiler (`trident profile`) and the Chrome trace (logging.trace_steps). Off by default: a closed recorder
// costs one relaxed load per span. Module code opens an RAII scope,
//   spans::Span s(spans::Kind::qkv, spans::Phase::forward, 2.0 * N * C * out);  // its FLOPs (2mnk per GEMM)
// and spans nest on the thread that opened them, so each one also knows its self time (its duration less its
// children's): a tensor-parallel all-reduce inside the qkv projection counts as communication, not as qkv.
// An async collective is a span of its own from launch to the moment its completion is first seen (a test()
// that succeeds or a wait() that returns), on a track named by its group; the time a wait blocks is a nested
// span on the thread as well, so "exposed" and "in flight" communication are both measured.
//
// Times are CPU wall clock (steady clock) by default. On a GPU, ops only launch kernels and return, so the
// profiler installs a device clock (set_clock; core/runtime/span_clock.h): each span then also records a
// timing event on the device's compute stream at open and close, and take() replaces its times by the events'
// (on the steady clock's axis), so kernels are timed where they run rather than where they are launched; self
// times are then recomputed from the spans' nesting. Async collectives stay on the CPU clock: launch to the
// moment the host sees them complete.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace trident::spans {

// Module kinds, in table order: DeepSpeed's flops-profiler rows plus the communication groups.
enum class Kind : uint8_t {
  embedding,
  qkv,        // attention's fused q, k, v projection
  attention,  // the attention core: scores, softmax, weighted sum (and RoPE)
  attn_proj,  // attention's output projection
  mlp_up,     // fc (GPT-2) or gate_up (SwiGLU), with its activation
  mlp_down,
  moe,  // an MoE layer: router, dispatch, experts (FLOPs: the router's and the experts' GEMMs on routed rows)
  norm,
  residual,   // the blocks' residual additions
  head_loss,  // the LM head's projection and the cross-entropy
  optimizer,  // DistributedOptimizer::step: finalise, clip, AdamW, gather (its waits are communication)
  comm_dp,    // data-parallel all-reduces: gradient buckets (ZeRO 0), norms
  comm_zero,  // ZeRO's reduce-scatters and all-gathers, hybrid shard and replica groups
  comm_tp,
  comm_pp,   // pipeline send/recv and the tied embedding's group
  comm_ep,   // expert parallelism's all-to-alls and expert data-parallel reductions
  pipeline,  // the pipeline executor's actions (forward/backward of a micro-batch, waits): trace only
  count
};
const char* kind_name(Kind k);
bool is_comm(Kind k);

enum class Phase : uint8_t { none, forward, backward };
const char* phase_name(Phase p);

struct Record {
  Kind kind = Kind::embedding;
  Phase phase = Phase::none;
  std::string name;   // "qkv", "wait all_reduce", "all_reduce f32 x 4096"
  std::string track;  // "" for the thread's own row; a group name ("dp-cp[0,1]") for an async collective
  double start_s = 0, end_s = 0;
  double self_s = 0;  // duration less nested spans' (equal to the duration on a track)
  double flops = 0;   // floating-point operations (multiply and add counted apart)
  double bytes = 0;   // bytes moved: a collective's buffer, or a memory-bound op's reads and writes
  uint64_t start_mark = 0, end_mark = 0;  // the device clock's marks (0: none), resolved by take()
};

// A clock that marks points in a device's stream of work and resolves them later: mark() is cheap and does
// not wait; seconds() may wait for the device to reach the mark. reset() forgets every mark (their resources
// are reused).
class Clock {
 public:
  virtual ~Clock() = default;
  virtual uint64_t mark() = 0;  // never 0
  virtual double seconds(uint64_t mark) = 0;
  virtual void reset() = 0;
};
// The clock spans opened from now on also mark (null: none, CPU wall clock only).
void set_clock(std::shared_ptr<Clock> clock);

// The process-wide recorder.
void enable(bool on);
bool enabled();
std::vector<Record> take();  // every closed record, oldest first; the recorder is emptied

class Span {
 public:
  Span(Kind kind, Phase phase, double flops = 0, double bytes = 0, const char* name = nullptr);
  ~Span();
  Span(const Span&) = delete;
  Span& operator=(const Span&) = delete;

 private:
  bool on_;
};

// An async collective: begin() at launch returns an id (0 when the recorder is off), end() at completion.
uint64_t begin_async(Kind kind, std::string track, std::string name, double bytes);
void end_async(uint64_t id);

}  // namespace trident::spans
