#pragma once
// Every NCCL return code is checked; a failure names the call, the file, the line, NCCL's error string and,
// where the communicator knows more, its last error message.
#include <nccl.h>

#include "core/runtime/error.h"

#define TRIDENT_NCCL_CHECK(call)                                                                       \
  do {                                                                                                 \
    const ncclResult_t trident_nccl_rc_ = (call);                                                      \
    if (trident_nccl_rc_ != ncclSuccess && trident_nccl_rc_ != ncclInProgress)                         \
      throw ::trident::Error(::fmt::format("{}:{}: NCCL call failed: {}: {} ({})", __FILE__, __LINE__, \
                                           #call, ncclGetErrorString(trident_nccl_rc_),                \
                                           ncclGetLastError(nullptr)));                                \
  } while (0)
