# Under mpirun, a problem every rank finds before the ranks communicate (a bad config, a missing data file) is
# printed once, by rank 0, and the job exits non-zero without MPI_Abort's banner; one only some ranks find is
# printed by each of them, naming the rank (tools/cli/cmd_train.cpp).
set(MPI_ERRORS_EXPECT bash ${CMAKE_CURRENT_SOURCE_DIR}/cli/expect_one_error.sh)
set(MPI_ERRORS_TINY ${CMAKE_SOURCE_DIR}/configs/gpt2_tiny.pbtxt)
set(MPI_ERRORS_DATA ${CMAKE_BINARY_DIR}/testdata/fortunes)

# trident_mpi_one_error(NAME name EXPECT regex... ARGS arg...): `mpirun -np 2 trident ARGS` must end non-zero
# with one error line, its output matching every EXPECT regex (tests/cli/expect_one_error.sh).
function(trident_mpi_one_error)
  cmake_parse_arguments(E "" "NAME" "EXPECT;ARGS" ${ARGN})
  trident_mpi_test(NAME cli.mpi_error.${E_NAME} NP 2 LABELS multirank TIMEOUT 90
                   LAUNCHER ${MPI_ERRORS_EXPECT} ${E_EXPECT} --
                   COMMAND $<TARGET_FILE:trident> ${E_ARGS})
  set_tests_properties(cli.mpi_error.${E_NAME} PROPERTIES FIXTURES_REQUIRED fortunes_data)
endfunction()

# Validation (both ranks find the same problems).
trident_mpi_one_error(NAME invalid_config
                      EXPECT "trident: error: config has 3 problems" "optim.lr \\(-1\\)" "runtime.threads \\(-1\\)"
                      ARGS train ${MPI_ERRORS_TINY} --set optim.lr=-1 --set runtime.threads=-1)
# Parsing, before MPI is even initialised.
trident_mpi_one_error(NAME unknown_field EXPECT "trident: error: .*no field 'stpes'"
                      ARGS train ${MPI_ERRORS_TINY} --set train.stpes=5)
# The data files, opened before any collective.
trident_mpi_one_error(NAME missing_shard EXPECT "trident: error: .*none.bin.*does not exist"
                      ARGS train ${MPI_ERRORS_TINY} --set data.train_path=${MPI_ERRORS_DATA}/none.bin)
# Only rank 1 misses its data (as if a node lacked the file): rank 1 says so by rank, nobody hangs.
set(MPI_ERRORS_ONE_STEP --set data.val_path=${MPI_ERRORS_DATA}/val.bin --set train.steps=1
    --set optim.warmup_steps=0)
add_test(NAME cli.mpi_error.one_rank_only
         COMMAND ${MPI_ERRORS_EXPECT} "trident: error: \\[rank 1\\] .*none.bin.*does not exist" --
                 ${MPIEXEC_EXECUTABLE} --oversubscribe
                 ${MPIEXEC_NUMPROC_FLAG} 1 $<TARGET_FILE:trident> train ${MPI_ERRORS_TINY} ${MPI_ERRORS_ONE_STEP}
                     --set data.train_path=${MPI_ERRORS_DATA}/train.bin :
                 ${MPIEXEC_NUMPROC_FLAG} 1 $<TARGET_FILE:trident> train ${MPI_ERRORS_TINY} ${MPI_ERRORS_ONE_STEP}
                     --set data.train_path=${MPI_ERRORS_DATA}/none.bin)
set_tests_properties(cli.mpi_error.one_rank_only PROPERTIES LABELS multirank TIMEOUT 90 PROCESSORS 2
                     ENVIRONMENT "${TRIDENT_MPI_TEST_ENV}" FIXTURES_REQUIRED fortunes_data)
