# Checkpoints: a run interrupted after step 7 of 15 and resumed from its checkpoint continues bit for bit (every
# later loss, val loss, grad norm and the final weights), under the same layout: single rank, data parallelism
# at every ZeRO stage and hybrid, tensor + sequence parallelism, pipeline schedules (interleaved included), bf16
# and fp16 (loss scale restored), MoE with expert parallelism (ZeRO-3 included).
set(CK_OUT ${CMAKE_BINARY_DIR}/testdata/checkpoint)
set(CK_LAYOUTS single dp2 dp2_z1 dp2_z2 dp2_z3 dp4_hybrid2_z2 tp2_sp pp2_gpipe pp2_1f1b pp2_v2 dp2_bf16_z1 dp2_fp16
    llama_tp2_sp llama_pp2_v2 moe_ep2 moe_ep2_dp4_z3 llama_moe_ep2_tp2_sp)
# name: ranks, config, then its --set options.
set(ck_single 1 gpt2_tiny)
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
