# GPU tests (label gpu; tools/gpu_check.sh runs `ctest -L gpu`). Built with the CUDA backend only; every test
# skips, with the reason, on a machine without a GPU.
#
# trident_gpu_tests: the NCCL communicator, the MPI communicator on device buffers and device tensors, the
# training groups' routed communicator and training steps under comm.backend nccl against mpi, under
# mpirun with the multi-rank main (tests/multirank/multirank_main.cpp). np2 on a one-GPU machine skips the NCCL
# tests (NCCL needs a GPU per rank) and still runs the MPI-with-device-buffer ones.
add_executable(trident_gpu_tests ${CMAKE_CURRENT_SOURCE_DIR}/multirank/multirank_main.cpp
                                 ${CMAKE_CURRENT_SOURCE_DIR}/gpu/test_nccl.cpp)
target_link_libraries(trident_gpu_tests PRIVATE trident_train GTest::gtest)
target_compile_definitions(trident_gpu_tests PRIVATE TRIDENT_SOURCE_DIR="${CMAKE_SOURCE_DIR}")
# Without a GPU every case skips and the binary exits 77: ctest reports the entry as skipped, not passed.
foreach(np 1 2)
  trident_mpi_test(NAME gpu.nccl.np${np} NP ${np} LABELS gpu COMMAND $<TARGET_FILE:trident_gpu_tests>)
  set_tests_properties(gpu.nccl.np${np} PROPERTIES SKIP_RETURN_CODE 77)
endforeach()

# trident_cuda_ops_tests: every CUDA op against the CPU reference on random inputs in f32, bf16 and f16
# (test_cuda_ops.cpp), the golden fixtures with the model on the GPU (test_golden_gpu.cpp), and the profiler's
# spans timed by CUDA events (test_gpu_spans.cpp). One process,
# plain ctest (no mpirun); each test case is a ctest entry labelled gpu.
add_executable(trident_cuda_ops_tests ${CMAKE_CURRENT_SOURCE_DIR}/gpu/test_cuda_ops.cpp
                                      ${CMAKE_CURRENT_SOURCE_DIR}/gpu/test_golden_gpu.cpp
                                      ${CMAKE_CURRENT_SOURCE_DIR}/gpu/test_gpu_spans.cpp)
target_link_libraries(trident_cuda_ops_tests PRIVATE trident_train GTest::gtest GTest::gtest_main)
target_compile_definitions(trident_cuda_ops_tests PRIVATE TRIDENT_SOURCE_DIR="${CMAKE_SOURCE_DIR}")
# Passive OpenMP threads, as every test folder has: the cases' CPU references run side by side (gpu_check.sh
# also caps them at two threads each).
gtest_discover_tests(trident_cuda_ops_tests TEST_PREFIX gpu. DISCOVERY_TIMEOUT 60
                     PROPERTIES LABELS gpu ENVIRONMENT OMP_WAIT_POLICY=PASSIVE)
