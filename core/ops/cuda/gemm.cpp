// GEMM and the linear layer on CUDA: cuBLASLt, f32 accumulation and f32 scalars for every element type (plain
// CUBLAS_COMPUTE_32F, never TF32, so f32 results match the CPU reference to about 1e-6).
//
// Tensors are row-major and cuBLASLt is column-major: a row-major (R, C) matrix is a column-major (C, R) one,
// so out (M, N) = op(a) @ op(b) is computed as out^T (N, M) = op(b)^T @ op(a)^T, with b as cuBLASLt's A and a
// as its B and the transposes carried over unchanged.
#include <cublasLt.h>

#include <map>
#include <mutex>
#include <optional>

#include "core/ops/cuda/bias_launch.h"
#include "core/ops/cuda/cuda_op_util.h"
#include "core/ops/cuda/cuda_ops.h"
#include "core/ops/cuda/elementwise_launch.h"
#include "core/runtime/cuda/cublas.h"

namespace trident::ops::cuda {
namespace {

cudaDataType_t blas_type(DType dtype) {
  switch (dtype) {
    case DType::f32:
      return CUDA_R_32F;
    case DType::bf16:
      return CUDA_R_16BF;
    case DType::f16:
      return CUDA_R_16F;
    default:
      fail("ops::matmul: dtype {} has no cuBLASLt type here", dtype_name(dtype));
  }
}

// A cuBLASLt descriptor, destroyed with its scope.
template <typename H, cublasStatus_t (*Destroy)(H)>
class LtObject {
 public:
  LtObject() = default;
  ~LtObject() {
    if (h_ != nullptr) Destroy(h_);
  }
  LtObject(const LtObject&) = delete;
  LtObject& operator=(const LtObject&) = delete;
  H* out() { return &h_; }
  H get() const { return h_; }

 private:
  H h_ = nullptr;
};
using MatmulDesc = LtObject<cublasLtMatmulDesc_t, cublasLtMatmulDescDestroy>;
using MatrixLayout = LtObject<cublasLtMatrixLayout_t, cublasLtMatrixLayoutDestroy>;
using Preference = LtObject<cublasLtMatmulPreference_t, cublasLtMatmulPreferenceDestroy>;

// The largest power of two up to 256 that divides the address: cuBLASLt picks kernels by operand alignment,
// and a tensor view may start anywhere.
uint32_t alignment_of(const void* p) {
  const auto address = reinterpret_cast<uintptr_t>(p);
  uint32_t align = 256;
  while (align > 1 && address % align != 0) align /= 2;
  return align;
}

// Everything the heuristic's answer depends on.
struct AlgoKey {
  int device;
  int64_t m, n, k;
  bool trans_a, trans_b;
  DType dtype;
  bool bias, accumulate;
  uint32_t align_a, align_b, align_out;
  auto operator<=>(const AlgoKey&) const = default;
};

// The heuristic's first choice per problem, or nullopt when it has none; asked once per problem per process.
class AlgoCache {
 public:
  template <typename Ask>
  std::optional<cublasLtMatmulAlgo_t> find(const AlgoKey& key, Ask&& ask) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = algos_.find(key);
    if (it == algos_.end()) it = algos_.emplace(key, ask()).first;
    return it->second;
  }

 private:
  std::mutex mu_;
  std::map<AlgoKey, std::optional<cublasLtMatmulAlgo_t>> algos_;
};

AlgoCache& algo_cache() {
  static AlgoCache cache;
  return cache;
}

// out (m, n) = alpha * op(a) (m, k) @ op(b) (k, n) + beta * out [+ bias (n) in every row], row-major.
struct Gemm {
  void* out;
  const void* a;
  const void* b;
  int64_t m, n, k;
  bool trans_a, trans_b;
  float alpha, beta;
  DType dtype;
  const void* bias = nullptr;  // 16-byte aligned (cuBLASLt's bias epilogue needs it); only with beta = 0
};

template <typename V>
void set_attribute(cublasLtMatmulDesc_t desc, cublasLtMatmulDescAttributes_t attribute, const V& value) {
  TRIDENT_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(desc, attribute, &value, sizeof(value)));
}

template <typename V>
void set_preference(cublasLtMatmulPreference_t pref, cublasLtMatmulPreferenceAttributes_t attribute,
                    const V& value) {
  TRIDENT_CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(pref, attribute, &value, sizeof(value)));
}

// A column-major (rows, cols) matrix, densely stored.
void make_layout(MatrixLayout& layout, cudaDataType_t type, int64_t rows, int64_t cols) {
  TRIDENT_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(layout.out(), type, static_cast<uint64_t>(rows),
                                                  static_cast<uint64_t>(cols), rows));
}

void run_gemm(const Gemm& g, int device, cudaStream_t stream) {
  if (g.m == 0 || g.n == 0) return;
  TRIDENT_CHECK(g.bias == nullptr || g.beta == 0.0f, "ops::matmul: a bias epilogue with beta != 0");
  if (g.k == 0) {  // op(a) @ op(b) is all zeros, and cuBLASLt takes no empty inner dimension
    if (g.bias != nullptr) {
      TRIDENT_CUDA_CHECK(launch_broadcast_rows(g.out, g.bias, g.m, g.n, g.dtype, stream));
    } else if (g.beta == 0.0f) {
      TRIDENT_CUDA_CHECK(cudaMemsetAsync(g.out, 0, g.m * g.n * dtype_size(g.dtype), stream));
    } else {
      TRIDENT_CUDA_CHECK(launch_scale(g.out, g.m * g.n, g.beta, g.dtype, stream));
    }
    return;
  }
  const cudaDataType_t type = blas_type(g.dtype);
  const CublasLtHandle& lt = cublaslt(device);

  MatmulDesc desc;
  TRIDENT_CUBLAS_CHECK(cublasLtMatmulDescCreate(desc.out(), CUBLAS_COMPUTE_32F, CUDA_R_32F));
  // cuBLASLt's A is our b and its B our a (see the top of the file).
  const cublasOperation_t op_a = g.trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
  const cublasOperation_t op_b = g.trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
  set_attribute(desc.get(), CUBLASLT_MATMUL_DESC_TRANSA, op_a);
  set_attribute(desc.get(), CUBLASLT_MATMUL_DESC_TRANSB, op_b);
  if (g.bias != nullptr) {
    // The bias runs along the rows of the column-major out^T (N, M): one value per output column, as wanted.
    set_attribute(desc.get(), CUBLASLT_MATMUL_DESC_EPILOGUE, CUBLASLT_EPILOGUE_BIAS);
    set_attribute(desc.get(), CUBLASLT_MATMUL_DESC_BIAS_POINTER, g.bias);
    set_attribute(desc.get(), CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, static_cast<int32_t>(type));
  }

  // b is stored row-major (k, n), or (n, k) when transposed: column-major (n, k), or (k, n).
  MatrixLayout layout_a, layout_b, layout_out;
  make_layout(layout_a, type, g.trans_b ? g.k : g.n, g.trans_b ? g.n : g.k);
  // a is stored row-major (m, k), or (k, m) when transposed: column-major (k, m), or (m, k).
  make_layout(layout_b, type, g.trans_a ? g.m : g.k, g.trans_a ? g.k : g.m);
  make_layout(layout_out, type, g.n, g.m);  // out^T (n, m)

  AlgoKey key{};
  key.device = device;
  key.m = g.m, key.n = g.n, key.k = g.k;
  key.trans_a = g.trans_a, key.trans_b = g.trans_b;
  key.dtype = g.dtype;
  key.bias = g.bias != nullptr;
  key.accumulate = g.beta != 0.0f;
  key.align_a = alignment_of(g.a), key.align_b = alignment_of(g.b), key.align_out = alignment_of(g.out);
  const std::optional<cublasLtMatmulAlgo_t> algo =
      algo_cache().find(key, [&]() -> std::optional<cublasLtMatmulAlgo_t> {
        Preference pref;
        TRIDENT_CUBLAS_CHECK(cublasLtMatmulPreferenceCreate(pref.out()));
        set_preference(pref.get(), CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES,
                       static_cast<uint64_t>(lt.workspace_bytes()));
        set_preference(pref.get(), CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, key.align_b);
        set_preference(pref.get(), CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, key.align_a);
        set_preference(pref.get(), CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, key.align_out);
        set_preference(pref.get(), CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, key.align_out);
        cublasLtMatmulHeuristicResult_t result{};
        int found = 0;
        const cublasStatus_t status = cublasLtMatmulAlgoGetHeuristic(
            lt.get(), desc.get(), layout_a.get(), layout_b.get(), layout_out.get(), layout_out.get(),
            pref.get(), 1, &result, &found);
        if (status == CUBLAS_STATUS_NOT_SUPPORTED) return std::nullopt;
        TRIDENT_CUBLAS_CHECK(status);
        if (found == 0) return std::nullopt;
        return result.algo;
      });

  if (!algo) {
    // No kernel takes the bias epilogue for this problem: seed out with the bias and accumulate onto it.
    TRIDENT_CHECK(
        g.bias != nullptr,
        "ops::matmul: cuBLASLt has no algorithm for ({}, {}, {}) {}{} in {} (operand alignments {}, {}, "
        "{} bytes)",
        g.m, g.n, g.k, g.trans_a ? "T" : "N", g.trans_b ? "T" : "N", dtype_name(g.dtype), key.align_a,
        key.align_b, key.align_out);
    TRIDENT_CUDA_CHECK(launch_broadcast_rows(g.out, g.bias, g.m, g.n, g.dtype, stream));
    Gemm plain = g;
    plain.bias = nullptr;
    plain.beta = 1.0f;
    run_gemm(plain, device, stream);
    return;
  }
  TRIDENT_CUBLAS_CHECK(cublasLtMatmul(
      lt.get(), desc.get(), &g.alpha, g.b, layout_a.get(), g.a, layout_b.get(), &g.beta, g.out,
      layout_out.get(), g.out, layout_out.get(), &*algo, lt.workspace(), lt.workspace_bytes(), stream));
}

}  // namespace

void matmul(Tensor& out, const Tensor& a, const Tensor& b, bool trans_a, bool trans_b, double alpha,
            double beta) {
  constexpr std::string_view op = "matmul";
  const auto [m, n, k] = checks::matmul_shape(a, b, trans_a, trans_b);
  const cudaStream_t stream = stream_for(op, {&out, &a, &b});
  require_kernel_dtype(op, a.dtype(), {&b, &out});
  run_gemm({out.raw(), a.raw(), b.raw(), m, n, k, trans_a, trans_b, static_cast<float>(alpha),
            static_cast<float>(beta), a.dtype()},
           out.device().index, stream);
}

void linear_forward(Tensor& out, const Tensor& in, const Tensor& weight, const Tensor& bias) {
  constexpr std::string_view op = "linear_forward";
  const auto [n, oc, ic] = checks::linear_shape(in, weight);
  const cudaStream_t stream = stream_for(op, {&out, &in, &weight, &bias});
  require_kernel_dtype(op, in.dtype(), {&out, &weight, &bias});
  // The bias epilogue reads the bias in 16-byte vectors: a view that starts elsewhere goes through a copy.
  Tensor aligned_bias;
  const void* bias_ptr = bias.defined() ? bias.raw() : nullptr;
  if (bias_ptr != nullptr && reinterpret_cast<uintptr_t>(bias_ptr) % 16 != 0) {
    aligned_bias = Tensor::empty(bias.shape(), bias.dtype(), bias.device());
    TRIDENT_CUDA_CHECK(
        cudaMemcpyAsync(aligned_bias.raw(), bias_ptr, bias.nbytes(), cudaMemcpyDeviceToDevice, stream));
    bias_ptr = aligned_bias.raw();
  }
  // out (N, OC) = in (N, IC) @ weight^T (IC, OC) + bias
  Gemm g{out.raw(), in.raw(), weight.raw(), n, oc, ic, false, true, 1.0f, 0.0f, in.dtype()};
  g.bias = bias_ptr;
  run_gemm(g, in.device().index, stream);
}

void linear_backward(Tensor& din, Tensor& dweight, Tensor& dbias, const Tensor& dout, const Tensor& in,
                     const Tensor& weight) {
  constexpr std::string_view op = "linear_backward";
  const auto [n, oc, ic] = checks::linear_shape(in, weight);
  const cudaStream_t stream = stream_for(op, {&din, &dweight, &dbias, &dout, &in, &weight});
  require_kernel_dtype(op, in.dtype(), {&din, &dweight, &dbias, &dout, &weight});
  const DType dtype = in.dtype();
  const int device = in.device().index;
  // din (N, IC) = dout (N, OC) @ weight (OC, IC)
  if (din.defined())
    run_gemm({din.raw(), dout.raw(), weight.raw(), n, ic, oc, false, false, 1.0f, 0.0f, dtype}, device,
             stream);
  // dweight (OC, IC) += dout^T (OC, N) @ in (N, IC)
  if (dweight.defined())
    run_gemm({dweight.raw(), dout.raw(), in.raw(), oc, ic, n, true, false, 1.0f, 1.0f, dtype}, device,
             stream);
  // dbias (OC) += column sums of dout (N, OC)
  if (dbias.defined() && n > 0 && oc > 0) {
    Tensor partial =
        Tensor::empty({column_sum_chunks(n, oc), oc}, DType::f32, dbias.device());  // (chunks, OC)
    TRIDENT_CUDA_CHECK(
        launch_accumulate_column_sums(dbias.raw(), dout.raw(), partial.data<float>(), n, oc, dtype, stream));
  }
}

}  // namespace trident::ops::cuda
