#pragma once
// The one place Trident includes <mpi.h>: C bindings only, and TRIDENT_MPI_CHECK for every MPI return code.
// Communicators use MPI_ERRORS_RETURN, so a failing call comes back here instead of aborting inside MPI.
#ifndef OMPI_SKIP_MPICXX
#define OMPI_SKIP_MPICXX 1
#endif
#ifndef MPICH_SKIP_MPICXX
#define MPICH_SKIP_MPICXX 1
#endif
#include <mpi.h>

#include <string>

namespace trident::comm {

std::string mpi_error_string(int code);
// Throws trident::Error "file:line: MPI call failed: MPI_Iallreduce(...): <MPI_Error_string>".
[[noreturn]] void mpi_fail(const char* call, int code, const char* file, int line);

}  // namespace trident::comm

#define TRIDENT_MPI_CHECK(call)                                              \
  do {                                                                       \
    int trident_mpi_rc_ = (call);                                            \
    if (trident_mpi_rc_ != MPI_SUCCESS)                                      \
      ::trident::comm::mpi_fail(#call, trident_mpi_rc_, __FILE__, __LINE__); \
  } while (0)
