# Checkpoints: a run interrupted after step 7 of 15 and resumed from its checkpoint continues bit for bit (every
# later loss, val loss, grad norm and the final weights), under the same layout: single rank, data parallelism
# at every ZeRO stage and hybrid, tensor + sequence parallelism, pipeline schedules (interleaved included), bf16
# and fp16 (loss scale restored), MoE with expert parallelism (ZeRO-3 included).
set(CK_OUT ${CMAKE_BINARY_DIR}/testdata/checkpoint)
set(CK_LAYOUTS single dp2 dp2_z1 dp2_z2 dp2_z3 dp4_hybrid2_z2 tp2_sp pp2_gpipe pp2_1f1b pp2_v2 dp2_bf16_z1 dp2_fp16
    llama_tp2_sp llama_pp2_v2 moe_ep2 moe_ep2_dp4_z3 llama_moe_ep2_tp2_sp dp2_z2_async pp2_1f1b_async)
# name: ranks, config, then its --set options.
set(ck_single 1 gpt2_tiny)
set(ck_dp2_z2_async 2 gpt2_tiny --set parallel.zero_stage=2 --set checkpoint.async=true)
set(ck_pp2_1f1b_async 2 gpt2_tiny --set parallel.pipeline=2 --set train.schedule=1f1b --set checkpoint.async=true)
set(ck_dp2 2 gpt2_tiny)
set(ck_dp2_z1 2 gpt2_tiny --set parallel.zero_stage=1 --set parallel.bucket_mb=0.1)
set(ck_dp2_z2 2 gpt2_tiny --set parallel.zero_stage=2 --set parallel.bucket_mb=0.1)
set(ck_dp2_z3 2 gpt2_tiny --set parallel.zero_stage=3)
set(ck_dp4_hybrid2_z2 4 gpt2_tiny --set parallel.zero_stage=2 --set parallel.zero_shard_size=2)
set(ck_tp2_sp 2 gpt2_tiny --set parallel.tensor=2 --set parallel.sequence_parallel=true)
set(ck_pp2_gpipe 2 gpt2_tiny --set parallel.pipeline=2 --set train.schedule=gpipe)
set(ck_pp2_1f1b 2 gpt2_tiny --set parallel.pipeline=2 --set train.schedule=1f1b)
set(ck_pp2_v2 2 gpt2_tiny --set parallel.pipeline=2 --set train.schedule=interleaved_1f1b
    --set parallel.virtual_stages=2)
set(ck_dp2_bf16_z1 2 gpt2_tiny --set train.precision=bf16 --set parallel.zero_stage=1)
set(ck_dp2_fp16 2 gpt2_tiny --set train.precision=fp16)
set(ck_llama_tp2_sp 2 llama_tiny --set parallel.tensor=2 --set parallel.sequence_parallel=true)
set(ck_llama_pp2_v2 2 llama_tiny --set parallel.pipeline=2 --set train.schedule=interleaved_1f1b
    --set parallel.virtual_stages=2)
set(ck_moe_ep2 2 moe_tiny --set parallel.expert=2)
set(ck_moe_ep2_dp4_z3 4 moe_tiny --set parallel.expert=2 --set parallel.zero_stage=3)
set(ck_llama_moe_ep2_tp2_sp 2 llama_moe_tiny --set parallel.expert=2 --set parallel.tensor=2
    --set parallel.sequence_parallel=true)
foreach(name ${CK_LAYOUTS})
  set(args ${ck_${name}})
  list(POP_FRONT args np config)
  add_test(NAME checkpoint.resume.${name}
           COMMAND ${CMAKE_COMMAND} -E env ${EQ_ENV} bash ${CMAKE_CURRENT_SOURCE_DIR}/checkpoint/resume.sh
                   $<TARGET_FILE:trident> $<TARGET_FILE:compare_runs> ${CK_OUT}/${name} ${np}
                   ${CMAKE_SOURCE_DIR}/configs/${config}.pbtxt
                   --set data.train_path=${CMAKE_BINARY_DIR}/testdata/fortunes/train.bin
                   --set data.val_path=${CMAKE_BINARY_DIR}/testdata/fortunes/val.bin
                   --set train.steps=15 --set train.seq_len=64 --set train.global_batch_size=16
                   --set train.micro_batch_size=4 --set train.log_interval=1 --set train.eval_interval=5
                   --set train.eval_steps=2 --set train.sample_tokens=0 --set optim.warmup_steps=3
                   --set runtime.threads=1 ${args})
  set_tests_properties(checkpoint.resume.${name} PROPERTIES FIXTURES_REQUIRED fortunes_data LABELS multirank
                       TIMEOUT 180 RUN_SERIAL TRUE)
endforeach()

# Broken checkpoints: a flipped byte, a truncated or missing file, no manifest, another model, another layout:
# one message each; --resume auto skips a crashed save and a corrupt newest checkpoint.
add_test(NAME checkpoint.corrupt
         COMMAND ${CMAKE_COMMAND} -E env ${EQ_ENV} bash ${CMAKE_CURRENT_SOURCE_DIR}/checkpoint/corrupt.sh
                 $<TARGET_FILE:trident> ${CK_OUT}/corrupt ${CMAKE_SOURCE_DIR}/configs/gpt2_tiny.pbtxt
                 --set data.train_path=${CMAKE_BINARY_DIR}/testdata/fortunes/train.bin
                 --set data.val_path=${CMAKE_BINARY_DIR}/testdata/fortunes/val.bin --set train.seq_len=64
                 --set train.log_interval=1 --set train.eval_interval=0 --set train.eval_steps=2
                 --set train.sample_tokens=0 --set optim.warmup_steps=2 --set runtime.threads=1)
set_tests_properties(checkpoint.corrupt PROPERTIES FIXTURES_REQUIRED fortunes_data LABELS unit TIMEOUT 120)

# Resharding on load: a checkpoint saved after step 7 under layout A resumes under layout B; the next 10 steps'
# losses, val losses and the final weights match the uninterrupted run of A within 1e-5 (fp32, the
# equivalence tests' calm learning rate, clipping off). Each pair: A's ranks and options, B's.
set(RS_PAIRS dp2_z1__tp2 tp2_pp2__dp4_z3 pp2_v2__single single__pp4_uneven moe_ep2__ep4 moe_ep2__ep1
    llama_tp4__dp2_z2 dp4_hybrid2_z2_bf16__dp4_z1_bf16)
set(rs_dp2_z1__tp2 gpt2_tiny 2 --set parallel.zero_stage=1 -- 2 --set parallel.tensor=2)
set(rs_tp2_pp2__dp4_z3 gpt2_tiny 4 --set parallel.tensor=2 --set parallel.pipeline=2 --set train.schedule=1f1b
    -- 4 --set parallel.zero_stage=3)
set(rs_pp2_v2__single gpt2_tiny 2 --set parallel.pipeline=2 --set train.schedule=interleaved_1f1b
    --set parallel.virtual_stages=2 -- 1)
set(rs_single__pp4_uneven gpt2_tiny 1 --set model.n_layer=6 -- 4 --set model.n_layer=6 --set parallel.pipeline=4
    --set parallel.pipeline_layers=1,2,2,1 --set train.schedule=1f1b)
set(rs_moe_ep2__ep4 moe_tiny 2 --set parallel.expert=2 -- 4 --set parallel.expert=4)
set(rs_moe_ep2__ep1 moe_tiny 2 --set parallel.expert=2 -- 2)
set(rs_llama_tp4__dp2_z2 llama_tiny 4 --set parallel.tensor=4 -- 2 --set parallel.zero_stage=2)
set(rs_dp4_hybrid2_z2_bf16__dp4_z1_bf16 gpt2_tiny 4 --set parallel.zero_stage=2 --set parallel.zero_shard_size=2
    --set train.precision=bf16 -- 4 --set parallel.zero_stage=1
    --set train.precision=bf16)
foreach(name ${RS_PAIRS})
  set(args ${rs_${name}})
  list(POP_FRONT args config)
  add_test(NAME checkpoint.reshard.${name}
           COMMAND ${CMAKE_COMMAND} -E env ${EQ_ENV} bash ${CMAKE_CURRENT_SOURCE_DIR}/checkpoint/reshard.sh
                   $<TARGET_FILE:trident> $<TARGET_FILE:compare_runs> ${CK_OUT}/reshard_${name} ${args} --
                   ${CMAKE_SOURCE_DIR}/configs/${config}.pbtxt
                   --set data.train_path=${CMAKE_BINARY_DIR}/testdata/fortunes/train.bin
                   --set data.val_path=${CMAKE_BINARY_DIR}/testdata/fortunes/val.bin
                   --set train.steps=17 --set train.seq_len=64 --set train.global_batch_size=16
                   --set train.micro_batch_size=2 --set train.log_interval=1 --set train.eval_interval=5
                   --set train.eval_steps=2 --set train.sample_tokens=0 --set optim.warmup_steps=3
                   --set optim.lr=5e-4 --set optim.grad_clip=0 --set runtime.threads=1)
  set_tests_properties(checkpoint.reshard.${name} PROPERTIES FIXTURES_REQUIRED fortunes_data LABELS multirank
                       TIMEOUT 180 RUN_SERIAL TRUE)
endforeach()

# `checkpoint inspect` verifies a checkpoint written by 4 ranks (tp 2 x dp 2, ZeRO-3: every rank holds a
# different flat range of every tensor's slice), and `checkpoint export` assembles the global tensors byte for
# byte as the run's own model.safetensors.
add_test(NAME checkpoint.inspect_export
         COMMAND ${CMAKE_COMMAND} -E env ${EQ_ENV} bash ${CMAKE_CURRENT_SOURCE_DIR}/checkpoint/export.sh
                 $<TARGET_FILE:trident> ${CK_OUT}/export 4 ${CMAKE_SOURCE_DIR}/configs/llama_tiny.pbtxt
                 --set parallel.tensor=2 --set parallel.zero_stage=3
                 --set data.train_path=${CMAKE_BINARY_DIR}/testdata/fortunes/train.bin
                 --set data.val_path=${CMAKE_BINARY_DIR}/testdata/fortunes/val.bin --set train.seq_len=64
                 --set train.global_batch_size=16 --set train.micro_batch_size=4 --set train.log_interval=1
                 --set train.eval_interval=0 --set train.sample_tokens=0 --set optim.warmup_steps=2
                 --set runtime.threads=1)
set_tests_properties(checkpoint.inspect_export PROPERTIES FIXTURES_REQUIRED fortunes_data LABELS multirank
                     TIMEOUT 120 RUN_SERIAL TRUE)

# Crash safety: 20 SIGKILLs at random moments (mid-step and mid-save), each followed by --resume auto; the
# finished run equals an uninterrupted one bit for bit.
add_test(NAME checkpoint.kill
         COMMAND ${CMAKE_COMMAND} -E env ${EQ_ENV} bash ${CMAKE_CURRENT_SOURCE_DIR}/checkpoint/kill.sh
                 $<TARGET_FILE:trident> $<TARGET_FILE:compare_runs> ${CK_OUT}/kill
                 ${CMAKE_SOURCE_DIR}/configs/gpt2_tiny.pbtxt
                 --set data.train_path=${CMAKE_BINARY_DIR}/testdata/fortunes/train.bin
                 --set data.val_path=${CMAKE_BINARY_DIR}/testdata/fortunes/val.bin --set train.steps=150
                 --set train.seq_len=64 --set train.global_batch_size=16 --set train.micro_batch_size=4
                 --set train.log_interval=1 --set train.eval_interval=25 --set train.eval_steps=2
                 --set train.sample_tokens=0 --set optim.warmup_steps=10 --set runtime.threads=1)
set_tests_properties(checkpoint.kill PROPERTIES FIXTURES_REQUIRED fortunes_data LABELS slow TIMEOUT 300)

# --save-on-exit: SIGTERM to every rank mid-run; the ranks finish the step, save, exit 0, and the resumed run
# equals an uninterrupted one bit for bit (one rank with synchronous saves; dp 2 with async saves pending).
foreach(case np1 np2_async)
  if(case STREQUAL np1)
    set(np 1)
    set(extra)
  else()
    set(np 2)
    set(extra --set checkpoint.async=true --set checkpoint.interval=5)
  endif()
  add_test(NAME checkpoint.save_on_exit.${case}
           COMMAND ${CMAKE_COMMAND} -E env ${EQ_ENV} bash ${CMAKE_CURRENT_SOURCE_DIR}/checkpoint/save_on_exit.sh
                   $<TARGET_FILE:trident> $<TARGET_FILE:compare_runs> ${CK_OUT}/save_on_exit_${case} ${np}
                   ${CMAKE_SOURCE_DIR}/configs/gpt2_tiny.pbtxt
                   --set data.train_path=${CMAKE_BINARY_DIR}/testdata/fortunes/train.bin
                   --set data.val_path=${CMAKE_BINARY_DIR}/testdata/fortunes/val.bin --set train.steps=60
                   --set train.seq_len=64 --set train.global_batch_size=16 --set train.micro_batch_size=4
                   --set train.log_interval=1 --set train.eval_interval=20 --set train.eval_steps=2
                   --set train.sample_tokens=0 --set optim.warmup_steps=5 --set runtime.threads=1 ${extra})
  set_tests_properties(checkpoint.save_on_exit.${case} PROPERTIES FIXTURES_REQUIRED fortunes_data LABELS multirank
                       TIMEOUT 120 RUN_SERIAL TRUE)
endforeach()
