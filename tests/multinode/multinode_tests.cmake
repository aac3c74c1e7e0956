# Two nodes on one machine (network namespaces joined by a veth pair, an rsh agent in place of ssh): dp 4 and
# tp 2 x dp 2 across them equal the one-node runs bit for bit, a tp group mapped across the nodes is warned
# about, and a rank stopped on the second node is named by the watchdog (tests/multinode/two_nodes.sh).
# Needs root for the namespaces: skipped (exit 77), not passed, where they cannot be made.
set(MULTINODE_CONFIG ${CMAKE_SOURCE_DIR}/configs/gpt2_tiny.pbtxt
    --set data.train_path=${CMAKE_BINARY_DIR}/testdata/fortunes/train.bin
    --set data.val_path=${CMAKE_BINARY_DIR}/testdata/fortunes/val.bin --set train.steps=6
    --set optim.warmup_steps=2 --set train.seq_len=64 --set train.global_batch_size=16
    --set train.micro_batch_size=4 --set train.log_interval=1 --set train.eval_interval=3 --set train.eval_steps=2
    --set train.sample_tokens=0)
add_test(NAME multinode.two_nodes
         COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/multinode/two_nodes.sh $<TARGET_FILE:trident>
                 $<TARGET_FILE:compare_runs> ${CMAKE_BINARY_DIR}/testdata/multinode ${MULTINODE_CONFIG})
set_tests_properties(multinode.two_nodes PROPERTIES LABELS "multirank;multinode" TIMEOUT 300 SKIP_RETURN_CODE 77
                     RUN_SERIAL TRUE FIXTURES_REQUIRED fortunes_data)
