# The profiler and the span trace (issue 15, parts 3 and 4): `trident profile` on tiny GPT-2, and a
# data-parallel 2 trace where bucket all-reduces overlap backward.
set(PROFILE_DIR ${CMAKE_CURRENT_SOURCE_DIR}/profile)
set(PROFILE_OUT ${CMAKE_BINARY_DIR}/testdata/profile)
set(PROFILE_ENV "OMPI_ALLOW_RUN_AS_ROOT=1;OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1;OMP_NUM_THREADS=1;OPENBLAS_NUM_THREADS=1;OMP_WAIT_POLICY=PASSIVE")
set(PROFILE_DATA --set data.train_path=${CMAKE_BINARY_DIR}/testdata/fortunes/train.bin
    --set data.val_path=${CMAKE_BINARY_DIR}/testdata/fortunes/val.bin)
find_package(Python3 COMPONENTS Interpreter REQUIRED)

add_test(NAME profile.flops_and_shares
         COMMAND ${CMAKE_COMMAND} -E env ${PROFILE_ENV} ${Python3_EXECUTABLE} ${PROFILE_DIR}/check_profile.py
                 $<TARGET_FILE:trident> ${CMAKE_SOURCE_DIR}/configs/gpt2_tiny.pbtxt ${PROFILE_DATA})
set_tests_properties(profile.flops_and_shares PROPERTIES FIXTURES_REQUIRED fortunes_data LABELS unit TIMEOUT 120)

# With activation recomputation: the blocks' forward FLOPs counted a second time, and said.
add_test(NAME profile.recompute_flops
         COMMAND ${CMAKE_COMMAND} -E env ${PROFILE_ENV} ${Python3_EXECUTABLE} ${PROFILE_DIR}/check_profile.py
                 $<TARGET_FILE:trident> ${CMAKE_SOURCE_DIR}/configs/gpt2_tiny.pbtxt --recompute ${PROFILE_DATA})
set_tests_properties(profile.recompute_flops PROPERTIES FIXTURES_REQUIRED fortunes_data LABELS unit TIMEOUT 120)

# The MoE layer's FLOPs: its router's and experts' GEMMs on the rows routed (tiny MoE GPT-2, dropless top-2).
add_test(NAME profile.moe_flops
         COMMAND ${CMAKE_COMMAND} -E env ${PROFILE_ENV} ${Python3_EXECUTABLE} ${PROFILE_DIR}/check_profile.py
                 $<TARGET_FILE:trident> ${CMAKE_SOURCE_DIR}/configs/moe_tiny.pbtxt --moe ${PROFILE_DATA})
set_tests_properties(profile.moe_flops PROPERTIES FIXTURES_REQUIRED fortunes_data LABELS unit TIMEOUT 120)

# --rank R prints that rank's table: under pp 2, rank 1 is the last stage, which holds the head and the loss (their
# FLOPs non-zero there), and no other rank prints. A rank outside the job is refused.
add_test(NAME profile.rank_last_stage
         COMMAND bash ${CMAKE_SOURCE_DIR}/tests/cli/expect.sh ok
                 "profile of rank 1:(?!.*profile of rank 0).*head \\+ loss +0*\\.?0*[1-9]"
                 ${MPIEXEC_EXECUTABLE} --oversubscribe -np 2 $<TARGET_FILE:trident> profile
                 ${CMAKE_SOURCE_DIR}/configs/gpt2_tiny.pbtxt ${PROFILE_DATA} --set parallel.pipeline=2
                 --set train.seq_len=64 --set train.micro_batch_size=4 --set train.global_batch_size=8
                 --set runtime.threads=1 --steps 1 --rank 1)
set_tests_properties(profile.rank_last_stage PROPERTIES FIXTURES_REQUIRED fortunes_data LABELS "unit;multirank"
                     TIMEOUT 120 PROCESSORS 2 ENVIRONMENT "${PROFILE_ENV}")
add_test(NAME profile.rank_outside_the_job
         COMMAND bash ${CMAKE_SOURCE_DIR}/tests/cli/expect.sh error "--rank 3: the job has 1 rank \\(0 to 0\\)"
                 $<TARGET_FILE:trident> profile ${CMAKE_SOURCE_DIR}/configs/gpt2_tiny.pbtxt ${PROFILE_DATA} --rank 3)
set_tests_properties(profile.rank_outside_the_job PROPERTIES FIXTURES_REQUIRED fortunes_data LABELS unit TIMEOUT 60)

# Small buckets (0.05 MB: about 30 of tiny GPT-2's 0.9M gradients), so that most start while backward goes on.
add_test(NAME profile.trace_dp2
         COMMAND ${CMAKE_COMMAND} -E env ${PROFILE_ENV} bash ${PROFILE_DIR}/trace_dp2.sh $<TARGET_FILE:trident>
                 ${Python3_EXECUTABLE} ${PROFILE_DIR}/check_trace.py ${PROFILE_OUT}/trace_dp2.json
                 ${CMAKE_SOURCE_DIR}/configs/gpt2_tiny.pbtxt ${PROFILE_DATA} --set parallel.bucket_mb=0.05
                 --set train.seq_len=64 --set train.micro_batch_size=4 --set train.global_batch_size=8
                 --set runtime.threads=1 --steps 2)
set_tests_properties(profile.trace_dp2 PROPERTIES FIXTURES_REQUIRED fortunes_data LABELS "unit;multirank"
                     TIMEOUT 120 PROCESSORS 2)

# The same trace from a training run: logging.trace_steps writes RUN/trace.json for those steps, every rank's
# spans gathered into one file (pid = rank).
add_test(NAME profile.train_trace_dp2
         COMMAND ${CMAKE_COMMAND} -E env ${PROFILE_ENV} bash -c
                 "t=$0 o=$1 py=$2 ck=$3 && shift 3 && rm -rf $o && mpirun --oversubscribe -np 2 $t train \"$@\" --out $o > /dev/null && $py $ck $o/trace.json"
                 $<TARGET_FILE:trident> ${PROFILE_OUT}/train_trace_dp2 ${Python3_EXECUTABLE} ${PROFILE_DIR}/check_trace.py
                 ${CMAKE_SOURCE_DIR}/configs/gpt2_tiny.pbtxt ${PROFILE_DATA} --set parallel.bucket_mb=0.05
                 --set train.seq_len=64 --set train.micro_batch_size=4 --set train.global_batch_size=8
                 --set train.steps=4 --set optim.warmup_steps=1 --set train.eval_interval=0 --set train.sample_tokens=0
                 --set runtime.threads=1 --set logging.trace_steps=2,3)
set_tests_properties(profile.train_trace_dp2 PROPERTIES FIXTURES_REQUIRED fortunes_data LABELS multirank
                     TIMEOUT 120 PROCESSORS 2)
