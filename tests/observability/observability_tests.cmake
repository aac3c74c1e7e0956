# Observability (issue 15): TensorBoard event files read back by the real `tensorboard` package, and loss plots.
set(OBS_DIR ${CMAKE_CURRENT_SOURCE_DIR}/observability)
set(OBS_OUT ${CMAKE_BINARY_DIR}/testdata/observability)
set(OBS_VENV ${CMAKE_BINARY_DIR}/tensorboard-venv)
set(OBS_ENV "OMPI_ALLOW_RUN_AS_ROOT=1;OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1;OMP_NUM_THREADS=1;OPENBLAS_NUM_THREADS=1;OMP_WAIT_POLICY=PASSIVE")
# A short run: every step logged, two evaluations, no sample.
set(OBS_TRAIN --set data.train_path=${CMAKE_BINARY_DIR}/testdata/fortunes/train.bin
    --set data.val_path=${CMAKE_BINARY_DIR}/testdata/fortunes/val.bin --set train.steps=8 --set train.seq_len=64
    --set train.global_batch_size=16 --set train.micro_batch_size=4 --set train.log_interval=1
    --set train.eval_interval=4 --set train.eval_steps=2 --set train.sample_tokens=0 --set optim.warmup_steps=2
    --set runtime.threads=1)

# The venv with tensorboard from PyPI, once per build directory; a failed install fails, never skips.
add_test(NAME observability.tensorboard_venv COMMAND bash ${OBS_DIR}/make_venv.sh ${OBS_VENV})
set_tests_properties(observability.tensorboard_venv PROPERTIES FIXTURES_SETUP tensorboard_venv LABELS unit
                     TIMEOUT 900)

# name: ranks, config, the tags that must be there, then --set options. pp2_fp16_moe shows the loss scale, the
# pipeline bubble and the MoE losses and expert load (moe_load/<i>/...).
set(tb_single 1 gpt2_tiny loss,val_loss,lr,grad_norm,tokens_per_s,peak_memory_mb,elapsed_s)
set(tb_pp2_fp16_moe 2 moe_tiny
    loss,val_loss,lr,grad_norm,tokens_per_s,peak_memory_mb,loss_scale,pp_bubble,pp_wait_s/1,moe_aux_loss,moe_z_loss,moe_load/
    --set parallel.pipeline=2 --set train.precision=fp16)
foreach(name single pp2_fp16_moe)
  set(args ${tb_${name}})
  list(POP_FRONT args np config tags)
  add_test(NAME observability.tensorboard.${name}
           COMMAND ${CMAKE_COMMAND} -E env ${OBS_ENV} bash ${OBS_DIR}/tensorboard_roundtrip.sh $<TARGET_FILE:trident>
                   ${OBS_VENV} ${OBS_OUT}/tb_${name} ${np} ${tags} ${CMAKE_SOURCE_DIR}/configs/${config}.pbtxt
                   ${OBS_TRAIN} ${args})
  set_tests_properties(observability.tensorboard.${name} PROPERTIES
                       FIXTURES_REQUIRED "fortunes_data;tensorboard_venv" LABELS unit TIMEOUT 180 PROCESSORS ${np})
endforeach()
# A run resumed into its own directory from an earlier checkpoint shows each step once, in metrics.jsonl and
# in TensorBoard (the resumed file restarts the session at the step after the checkpoint).
add_test(NAME observability.tensorboard_resume
         COMMAND ${CMAKE_COMMAND} -E env ${OBS_ENV} bash ${OBS_DIR}/tensorboard_resume.sh $<TARGET_FILE:trident>
                 ${OBS_VENV} ${OBS_OUT}/tb_resume ${CMAKE_SOURCE_DIR}/configs/gpt2_tiny.pbtxt ${OBS_TRAIN})
set_tests_properties(observability.tensorboard_resume PROPERTIES FIXTURES_REQUIRED "fortunes_data;tensorboard_venv"
                     LABELS unit TIMEOUT 180)
add_test(NAME observability.tensorboard_off
         COMMAND ${CMAKE_COMMAND} -E env ${OBS_ENV} bash ${OBS_DIR}/tensorboard_off.sh $<TARGET_FILE:trident>
                 ${OBS_OUT}/tb_off ${CMAKE_SOURCE_DIR}/configs/gpt2_tiny.pbtxt ${OBS_TRAIN} --set train.steps=2)
set_tests_properties(observability.tensorboard_off PROPERTIES FIXTURES_REQUIRED fortunes_data LABELS unit TIMEOUT 120)

# Loss plots: two runs on one chart, one polyline per series, parsed as XML.
add_test(NAME observability.plot
         COMMAND ${CMAKE_COMMAND} -E env ${OBS_ENV} bash ${OBS_DIR}/plot.sh $<TARGET_FILE:trident> ${OBS_OUT}/plot
                 ${CMAKE_SOURCE_DIR}/configs/gpt2_tiny.pbtxt ${OBS_TRAIN})
set_tests_properties(observability.plot PROPERTIES FIXTURES_REQUIRED fortunes_data LABELS unit TIMEOUT 180)

# What `trident plot` refuses: one clear message each, a non-zero exit.
set(PLOT_IN ${OBS_OUT}/plot_inputs)
add_test(NAME observability.plot_inputs COMMAND bash ${OBS_DIR}/make_plot_inputs.sh ${PLOT_IN})
set_tests_properties(observability.plot_inputs PROPERTIES FIXTURES_SETUP plot_inputs LABELS unit)
function(trident_plot_error name regex)
  add_test(NAME observability.plot_error.${name}
           COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/cli/expect.sh error "${regex}" $<TARGET_FILE:trident> plot ${ARGN})
  set_tests_properties(observability.plot_error.${name} PROPERTIES LABELS unit TIMEOUT 60
                       FIXTURES_REQUIRED plot_inputs)
endfunction()
trident_plot_error(missing_dir "run directory '.*/nowhere' does not exist" ${PLOT_IN}/nowhere --out ${PLOT_IN}/x.svg)
trident_plot_error(no_metrics "'.*/not_a_run' has no metrics.jsonl" ${PLOT_IN}/not_a_run)
trident_plot_error(empty_metrics "empty_run/metrics.jsonl' is empty" ${PLOT_IN}/empty_run)
trident_plot_error(garbled_metrics "garbled_run/metrics.jsonl:2: not a JSON object" ${PLOT_IN}/garbled_run)
trident_plot_error(no_loss "no_loss_run/metrics.jsonl' has no training loss" ${PLOT_IN}/no_loss_run)
trident_plot_error(log_y_negative "log-scaled y axis cannot show" ${PLOT_IN}/negative_run --log-y)
trident_plot_error(several_without_out "plotting 2 runs: say where with --out" ${PLOT_IN}/negative_run
                   ${PLOT_IN}/negative_run)
trident_plot_error(bad_x "--x: .*tokens|tokens.*not in" ${PLOT_IN}/negative_run --x epochs)
trident_plot_error(out_dir_missing "the directory '.*/no_dir' does not exist" ${PLOT_IN}/negative_run
                   --out ${PLOT_IN}/no_dir/x.svg)
add_test(NAME observability.plot_help COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/cli/expect.sh ok "Usage:.*--log-y"
                                              $<TARGET_FILE:trident> plot --help)
set_tests_properties(observability.plot_help PROPERTIES LABELS unit TIMEOUT 60)
