# Hugging Face interop (`trident export hf`, `trident import hf`, train.init_weights) against the fixtures that
# tools/reference/make_hf_fixture.py wrote with real transformers (tests/hf/; no Python needed here). Every test
# is named hf.*: `ctest -R '^hf\.'`.
set(HF_DIR ${CMAKE_CURRENT_SOURCE_DIR}/hf)
set(HF_OUT ${CMAKE_BINARY_DIR}/testdata/hf)
set(HF_EXPECT bash ${CMAKE_CURRENT_SOURCE_DIR}/cli/expect.sh)
set(HF_DATA_SETS --set data.train_path=${CMAKE_BINARY_DIR}/testdata/fortunes/train.bin
                 --set data.val_path=${CMAKE_BINARY_DIR}/testdata/fortunes/val.bin)

# The library: imported fixtures against transformers' logits (1e-5), export/import bit for bit, init weights
# through ParallelModel, refusals.
add_executable(trident_hf_tests ${HF_DIR}/test_hf.cpp)
target_link_libraries(trident_hf_tests PRIVATE trident_train GTest::gtest GTest::gtest_main)
target_compile_definitions(trident_hf_tests PRIVATE TRIDENT_SOURCE_DIR="${CMAKE_SOURCE_DIR}"
                                                    TRIDENT_BINARY_DIR="${CMAKE_BINARY_DIR}")
gtest_discover_tests(trident_hf_tests TEST_PREFIX hf. PROPERTIES LABELS golden ENVIRONMENT OMP_WAIT_POLICY=PASSIVE
                     DISCOVERY_TIMEOUT 60)

# The commands: import each fixture into a run directory, export it again with Trident's logits beside it.
foreach(arch gpt2 llama)
  add_test(NAME hf.cli.import_${arch}
           COMMAND ${HF_EXPECT} ok "imported .*: ${arch}, 2 layers, d_model 32.*vocabulary 260 \\(padded to 320\\)"
                   $<TARGET_FILE:trident> import hf ${HF_DIR}/${arch} --out ${HF_OUT}/${arch}_run)
  set_tests_properties(hf.cli.import_${arch} PROPERTIES LABELS unit TIMEOUT 60 FIXTURES_SETUP hf_${arch}_run)
  add_test(NAME hf.cli.export_${arch}
           COMMAND ${HF_EXPECT} ok "wrote .*/config.json and .*/model.safetensors.*trident_logits.safetensors"
                   $<TARGET_FILE:trident> export hf ${HF_OUT}/${arch}_run ${HF_OUT}/${arch}_export --logits)
  set_tests_properties(hf.cli.export_${arch} PROPERTIES LABELS unit TIMEOUT 60 FIXTURES_REQUIRED hf_${arch}_run)
endforeach()

# Pretraining continues from the imported weights (train.init_weights), on one rank and split over two
# (tensor parallelism: each rank takes its slice of the imported tensors).
add_test(NAME hf.cli.train_from_import
         COMMAND ${HF_EXPECT} ok "initial weights: 15 tensors from .*llama_run/model.safetensors.*step +2/2"
                 $<TARGET_FILE:trident> train ${HF_OUT}/llama_run/config.pbtxt ${HF_DATA_SETS} --set train.steps=2
                 --set optim.warmup_steps=1 --set train.sample_tokens=0 --set train.eval_steps=1 --out ${HF_OUT}/llama_continued)
set_tests_properties(hf.cli.train_from_import PROPERTIES LABELS unit TIMEOUT 120
                     FIXTURES_REQUIRED "fortunes_data;hf_llama_run")
trident_mpi_test(NAME hf.cli.train_from_import_tp2 NP 2 LABELS multirank TIMEOUT 120
                 LAUNCHER ${HF_EXPECT} ok "initial weights: 15 tensors from .*tensor-parallel 2.*step +2/2"
                 COMMAND $<TARGET_FILE:trident> train ${HF_OUT}/llama_run/config.pbtxt ${HF_DATA_SETS}
                         --set parallel.tensor=2 --set train.steps=2 --set optim.warmup_steps=1 --set train.sample_tokens=0
                         --set train.eval_steps=1 --out ${HF_OUT}/llama_continued_tp2)
set_tests_properties(hf.cli.train_from_import_tp2 PROPERTIES FIXTURES_REQUIRED "fortunes_data;hf_llama_run")

# Bad input: one clear message, a non-zero exit.
add_test(NAME hf.cli.make_bad_dirs COMMAND bash ${HF_DIR}/make_bad_hf.sh ${HF_OUT}/bad)
set_tests_properties(hf.cli.make_bad_dirs PROPERTIES LABELS unit FIXTURES_SETUP hf_bad_dirs)
function(hf_expect_error name regex)
  add_test(NAME hf.cli.${name} COMMAND ${HF_EXPECT} error "${regex}" $<TARGET_FILE:trident> ${ARGN})
  set_tests_properties(hf.cli.${name} PROPERTIES LABELS unit TIMEOUT 60 FIXTURES_REQUIRED hf_bad_dirs)
endfunction()
hf_expect_error(import_rope_scaling
                "rope_scaling/config.json: rope_scaling \\{.*\"rope_type\":\"linear\"\\} is not supported: Trident's RoPE has no scaling"
                import hf ${HF_OUT}/bad/rope_scaling --out ${HF_OUT}/bad/rope_scaling_run)
hf_expect_error(import_missing_weights "no_weights' has no model.safetensors" import hf ${HF_OUT}/bad/no_weights
                --out ${HF_OUT}/bad/no_weights_run)
hf_expect_error(import_missing_dir "nowhere' is not a directory" import hf ${HF_OUT}/bad/nowhere
                --out ${HF_OUT}/bad/nowhere_run)
hf_expect_error(export_missing_run "nowhere' is not a directory \\(expected a run directory" export hf
                ${HF_OUT}/bad/nowhere ${HF_OUT}/bad/nowhere_export)
add_test(NAME hf.cli.init_weights_missing
         COMMAND ${HF_EXPECT} error "train.init_weights '.*nowhere.safetensors' is not a file" $<TARGET_FILE:trident>
                 train ${CMAKE_SOURCE_DIR}/configs/gpt2_tiny.pbtxt ${HF_DATA_SETS}
                 --set train.init_weights=${HF_OUT}/bad/nowhere.safetensors)
set_tests_properties(hf.cli.init_weights_missing PROPERTIES LABELS unit TIMEOUT 60 FIXTURES_REQUIRED fortunes_data)
# A weights file of another model: named by tensor.
add_test(NAME hf.cli.init_weights_other_model
         COMMAND ${HF_EXPECT} error "train.init_weights '.*llama_run/model.safetensors' does not fit the model: 'embed.wte' has shape \\(320, 32\\), the model's is \\(320, 128\\); it has no tensor 'embed.wpe'.*; and [0-9]+ more$"
                 $<TARGET_FILE:trident> train ${CMAKE_SOURCE_DIR}/configs/gpt2_tiny.pbtxt ${HF_DATA_SETS}
                 --set train.init_weights=${HF_OUT}/llama_run/model.safetensors)
set_tests_properties(hf.cli.init_weights_other_model PROPERTIES LABELS unit TIMEOUT 60
                     FIXTURES_REQUIRED "fortunes_data;hf_llama_run")

foreach(cmd "export hf" "import hf")
  string(REPLACE " " ";" args "${cmd}")
  string(REPLACE " " "_" name "help_${cmd}")
  add_test(NAME hf.cli.${name} COMMAND ${HF_EXPECT} ok "Usage:.*Example:" $<TARGET_FILE:trident> ${args} --help)
  set_tests_properties(hf.cli.${name} PROPERTIES LABELS unit TIMEOUT 60)
endforeach()
