#pragma once
// cuBLASLt for the CUDA GEMMs: the status check, and one handle plus workspace per device, owned for the life
// of the process (creating a handle costs milliseconds; a GEMM must not).
#include <cublasLt.h>

#include <cstddef>

#include "core/runtime/error.h"

#define TRIDENT_CUBLAS_CHECK(call)                                                                 \
  do {                                                                                             \
    const cublasStatus_t trident_cublas_status = (call);                                           \
    if (trident_cublas_status != CUBLAS_STATUS_SUCCESS)                                            \
      throw ::trident::Error(::fmt::format("{}:{}: {} failed: {} ({})", __FILE__, __LINE__, #call, \
                                           cublasLtGetStatusName(trident_cublas_status),           \
                                           cublasLtGetStatusString(trident_cublas_status)));       \
  } while (0)

namespace trident {

class CublasLtHandle {
 public:
  explicit CublasLtHandle(int device);
  ~CublasLtHandle();
  CublasLtHandle(const CublasLtHandle&) = delete;
  CublasLtHandle& operator=(const CublasLtHandle&) = delete;

  cublasLtHandle_t get() const { return handle_; }
  // Scratch for the algorithms that want it; 32 MiB, as cuBLAS recommends for Hopper.
  void* workspace() const { return workspace_; }
  size_t workspace_bytes() const { return kWorkspaceBytes; }

 private:
  static constexpr size_t kWorkspaceBytes = size_t{32} << 20;
  cublasLtHandle_t handle_ = nullptr;
  void* workspace_ = nullptr;
  int device_ = 0;
};

// The device's handle, created on first use.
const CublasLtHandle& cublaslt(int device);

}  // namespace trident
