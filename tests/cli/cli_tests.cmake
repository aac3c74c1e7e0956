# Command-line tests: the real `trident` binary on good and bad input. Bad input must end with one clear
# message and a non-zero exit, never a crash or a hang.
set(TRIDENT_BIN $<TARGET_FILE:trident>)
set(CLI_DIR ${CMAKE_CURRENT_SOURCE_DIR}/cli)
set(TEST_DATA ${CMAKE_BINARY_DIR}/testdata)
set(TINY ${CMAKE_SOURCE_DIR}/configs/gpt2_tiny.pbtxt)
set(DATA_SETS --set data.train_path=${TEST_DATA}/fortunes/train.bin --set data.val_path=${TEST_DATA}/fortunes/val.bin)

# Shared fixtures: the default corpus as token shards, and a few broken files.
add_test(NAME cli.prepare_fortunes
         COMMAND ${TRIDENT_BIN} data prepare --input /usr/share/games/fortunes --out ${TEST_DATA}/fortunes)
set_tests_properties(cli.prepare_fortunes PROPERTIES FIXTURES_SETUP fortunes_data LABELS unit)
add_test(NAME cli.make_bad_files COMMAND bash ${CLI_DIR}/make_bad_files.sh ${TEST_DATA})
set_tests_properties(cli.make_bad_files PROPERTIES FIXTURES_SETUP bad_files FIXTURES_REQUIRED fortunes_data
                     LABELS unit)

# trident_expect_output(NAME REGEX ARGS...): `trident ARGS` must exit 0 with output matching REGEX.
function(trident_expect_output name regex)
  add_test(NAME cli.${name} COMMAND bash ${CLI_DIR}/expect.sh ok "${regex}" ${TRIDENT_BIN} ${ARGN})
  set_tests_properties(cli.${name} PROPERTIES LABELS unit TIMEOUT 120)
endfunction()

function(trident_expect_error name regex)
  add_test(NAME cli.${name} COMMAND bash ${CLI_DIR}/expect.sh error "${regex}" ${TRIDENT_BIN} ${ARGN})
  set_tests_properties(cli.${name} PROPERTIES LABELS unit TIMEOUT 60 FIXTURES_REQUIRED "fortunes_data;bad_files")
endfunction()

trident_expect_error(missing_config "config file .*nope.pbtxt" train ${TEST_DATA}/nope.pbtxt)
trident_expect_error(garbled_config "garbled.pbtxt:[0-9]+:[0-9]+" train ${TEST_DATA}/garbled.pbtxt)
trident_expect_error(unknown_field "no field 'n_layers'" train ${TEST_DATA}/unknown_field.pbtxt)
trident_expect_error(invalid_values "config has 3 problems;;d_model \\(100\\) is not divisible;;optim.lr \\(-1\\)"
                     train ${TEST_DATA}/invalid_values.pbtxt)
trident_expect_error(bad_set "'abc' is not an integer" train ${TINY} --set train.steps=abc)
trident_expect_error(unknown_set "no field 'stpes'" train ${TINY} --set train.stpes=5)
trident_expect_error(seq_len_too_long "seq_len \\(512\\).*max_seq_len \\(256\\)|max_seq_len.*256.*512|512.*256"
                     train ${TINY} --set train.seq_len=512)
trident_expect_error(missing_shard "does not exist" train ${TINY} --set data.train_path=${TEST_DATA}/none.bin)
trident_expect_error(truncated_shard "truncated" train ${TINY} ${DATA_SETS}
                     --set data.train_path=${TEST_DATA}/truncated.bin)
trident_expect_error(wrong_token_dtype "dtype" train ${TINY} ${DATA_SETS}
                     --set data.train_path=${TEST_DATA}/bad_dtype.bin)
trident_expect_error(not_a_shard "bad magic" train ${TINY} ${DATA_SETS}
                     --set data.train_path=${CMAKE_SOURCE_DIR}/CMakeLists.txt)
trident_expect_error(vocab_too_small "vocab" train ${TINY} ${DATA_SETS} --set model.vocab_size=100)
trident_expect_error(unsupported_parallel "context parallelism is not supported yet" train ${TINY}
                     --set parallel.context=2)
# Mixture of experts: each bad knob named with its numbers.
trident_expect_error(moe_top_k "model.moe.top_k \\(5\\) must be between 1 and model.moe.num_experts \\(4\\)" train
                     ${TINY} --set model.moe.num_experts=4 --set model.moe.top_k=5)
trident_expect_error(moe_capacity "model.moe.capacity_factor \\(-1\\) must be >= 0" train ${TINY}
                     --set model.moe.num_experts=4 --set model.moe.capacity_factor=-1)
trident_expect_error(moe_expert_parallel "parallel.expert \\(3\\) must divide model.moe.num_experts \\(4\\)" train
                     ${TINY} --set model.moe.num_experts=4 --set parallel.expert=3)
trident_expect_error(moe_dense_expert_parallel "parallel.expert \\(2\\) splits experts over ranks, but model.moe.num_experts is 0"
                     train ${TINY} --set parallel.expert=2)
# One rank cannot hold a pipeline of two stages.
trident_expect_error(pipeline_world "not divisible by tensor \\(1\\) x pipeline \\(2\\)" train ${TINY}
                     --set parallel.pipeline=2)
# One rank cannot hold a tensor-parallel group of two.
trident_expect_error(tensor_parallel_world "tensor \\(2\\) x pipeline \\(1\\) x data|not divisible by tensor \\(2\\)" train ${TINY}
                     --set parallel.tensor=2)
trident_expect_error(generate_without_run "no model.safetensors" generate ${TEST_DATA}/no_run)
trident_expect_error(prepare_missing_input "does not exist|not found|no such" data prepare --input
                     ${TEST_DATA}/missing.txt --out ${TEST_DATA}/x)

# Help that a new user can follow: every command answers --help with its options.
foreach(cmd "" train "data prepare" generate "bench train" pp-sim topo)
  string(REPLACE " " ";" args "${cmd}")
  string(REPLACE " " "_" name "help_${cmd}")
  trident_expect_output(${name} "Usage:" ${args} --help)
endforeach()

# The main path end to end in a few seconds: train 20 steps into a run directory, then sample from it.
trident_expect_output(train_short "step +20/20 \\| val loss [0-9.]+.*sample \\(temperature" train ${TINY}
                      ${DATA_SETS} --set train.steps=20 --set optim.warmup_steps=5 --set train.eval_interval=10
                      --set train.sample_tokens=20 --out ${TEST_DATA}/short_run)
set_tests_properties(cli.train_short PROPERTIES FIXTURES_REQUIRED fortunes_data FIXTURES_SETUP short_run)
trident_expect_output(generate "^The " generate ${TEST_DATA}/short_run --prompt "The " --tokens 30)
set_tests_properties(cli.generate PROPERTIES FIXTURES_REQUIRED short_run)
# Greedy decoding (--top-k 1) is deterministic: the same text twice, whatever the seed and temperature, and
# the same with and without the KV cache.
add_test(NAME cli.generate_greedy COMMAND bash ${CLI_DIR}/generate_greedy.sh ${TRIDENT_BIN} ${TEST_DATA}/short_run)
set_tests_properties(cli.generate_greedy PROPERTIES FIXTURES_REQUIRED short_run LABELS unit TIMEOUT 120)

# pp-sim: the pp = 4, m = 8 1F1B timeline with its bubble next to the formula, and a chrome trace file; an
# impossible schedule is refused with the reason.
trident_expect_output(pp_sim
                      "rank 3 \\|.*bubble +0.272727 simulated, 0.272727 analytic.*deadlock-free +yes.*pp_sim.json"
                      pp-sim --pp 4 --microbatches 8 --schedule 1f1b --trace ${TEST_DATA}/pp_sim.json)
# ZeRO: hybrid sharding's groups printed by topo; a shard size that does not fit is refused, naming it.
trident_expect_output(topo_zero_hybrid "zero shard   4 groups of 2: \\[0 2\\] \\[1 3\\] \\[4 6\\] \\[5 7\\].*zero replica 4 groups of 2: \\[0 4\\]"
                      topo --world 8 ${TINY} --set parallel.tensor=2 --set parallel.zero_stage=3
                      --set parallel.zero_shard_size=2)
trident_expect_error(zero_shard_size_not_dividing "parallel.zero_shard_size \\(3\\) must divide the data-parallel size \\(1\\)"
                     train ${TINY} ${DATA_SETS} --set parallel.zero_stage=1 --set parallel.zero_shard_size=3)
trident_expect_error(zero_stage_out_of_range "parallel.zero_stage \\(4\\) must be 0, 1, 2 or 3" train ${TINY}
                     --set parallel.zero_stage=4)
trident_expect_error(pp_sim_invalid "micro" pp-sim --pp 2 --microbatches 3 --schedule interleaved_1f1b --virtual 2)
# runtime.device cuda on a machine without a GPU (CI): a CPU-only build refuses it in validation, a CUDA build
# when it looks for the GPU; either way one message naming runtime.device.
trident_expect_error(cuda_without_gpu "runtime.device 'cuda'|runtime.device is 'cuda', but there is no usable GPU"
                     train ${TINY} ${DATA_SETS} --set runtime.device=cuda)
