# MPI: the host-memory communicator and the multi-rank tests. Open MPI from Debian (libopenmpi-dev, openmpi-bin,
# installed by tools/setup.sh). A plain `trident train` never initialises it: core/comm/bootstrap.cpp only calls
# MPI_Init_thread when mpirun launched the process.
if(NOT MPI_CXX_FOUND)
  message(FATAL_ERROR "Trident needs MPI: apt-get install libopenmpi-dev openmpi-bin (tools/setup.sh installs them)")
endif()
message(STATUS "Trident: MPI ${MPI_CXX_VERSION} (${MPIEXEC_EXECUTABLE})")

# trident_mpi_test(NAME name NP ranks LABELS labels [TIMEOUT s] COMMAND cmd...): one ctest entry that runs
# `mpirun --oversubscribe -np NP cmd...`. Oversubscribed ranks on a small machine must yield, not spin: Open MPI
# turns on mpi_yield_when_idle when it knows the node is oversubscribed.
set(TRIDENT_MPI_TEST_ENV OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1
    OPENBLAS_NUM_THREADS=1 OMPI_MCA_rmaps_base_oversubscribe=1)
function(trident_mpi_test)
  cmake_parse_arguments(T "" "NAME;NP;TIMEOUT" "LABELS;COMMAND;LAUNCHER" ${ARGN})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 120)
  endif()
  add_test(NAME ${T_NAME} COMMAND ${T_LAUNCHER} ${MPIEXEC_EXECUTABLE} --oversubscribe ${MPIEXEC_NUMPROC_FLAG}
                                  ${T_NP} ${T_COMMAND})
  set_tests_properties(${T_NAME} PROPERTIES LABELS "${T_LABELS}" TIMEOUT ${T_TIMEOUT} PROCESSORS 2
                       ENVIRONMENT "${TRIDENT_MPI_TEST_ENV}")
endfunction()
