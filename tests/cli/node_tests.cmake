# Nodes. `trident topo --ranks-per-node K` shows which ranks mpirun puts on which node and flags tp / ep groups
# that span nodes. Training on several nodes is checked on one machine: TRIDENT_HOSTNAME (a test hook,
# core/runtime/rank_placement.h) gives each rank of an MPMD mpirun a fake host, so the node line, the warning
# about tp groups that span nodes and the one about ranks whose numerics settings differ are all exercised.
set(NODES_TINY ${CMAKE_SOURCE_DIR}/configs/gpt2_tiny.pbtxt)
set(NODES_DATA ${CMAKE_BINARY_DIR}/testdata)

# trident topo: by slot the tp groups stay inside nodes; round robin (--map-by node) spreads them.
add_test(NAME cli.topo_nodes_by_slot
         COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/cli/expect.sh ok
                 "nodes: 2 of 2 ranks \\(mpirun --map-by slot\\):\\nnode 0 \\(node-0\\): ranks 0 1\\nnode 1 \\(node-1\\): ranks 2 3\\nevery tp, etp and ep group stays inside one node"
                 $<TARGET_FILE:trident> topo --world 4 --set parallel.tensor=2 --ranks-per-node 2 ${NODES_TINY})
add_test(NAME cli.topo_nodes_round_robin
         COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/cli/expect.sh ok
                 "node 0 \\(node-0\\): ranks 0 2\\nnode 1 \\(node-1\\): ranks 1 3\\nSPANS NODES: tensor-parallel groups tp\\[0,1\\], tp\\[2,3\\] span nodes node-0, node-1: tp traffic is the heaviest"
                 $<TARGET_FILE:trident> topo --world 4 --set parallel.tensor=2 --ranks-per-node 2 --map-by node
                 ${NODES_TINY})
# Expert-parallel groups too, and one rank's node with --rank.
add_test(NAME cli.topo_nodes_expert_parallel
         COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/cli/expect.sh ok
                 "node 1 \\(node-1\\), local rank 1 of 2.*SPANS NODES: expert-parallel group ep\\[0,1,2,3\\]"
                 $<TARGET_FILE:trident> topo --world 4 --set model.moe.num_experts=4 --set parallel.expert=4
                 --ranks-per-node 2 --rank 3 ${NODES_TINY})
add_test(NAME cli.topo_nodes_expert_parallel_table
         COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/cli/expect.sh ok
                 "SPANS NODES: expert-parallel group ep\\[0,1,2,3\\] spans nodes node-0, node-1: its all-to-all"
                 $<TARGET_FILE:trident> topo --world 4 --set model.moe.num_experts=4 --set parallel.expert=4
                 --ranks-per-node 2 ${NODES_TINY})
add_test(NAME cli.topo_nodes_not_dividing
         COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/cli/expect.sh error
                 "--ranks-per-node 3 does not divide the world size 4" $<TARGET_FILE:trident> topo --world 4
                 --ranks-per-node 3 ${NODES_TINY})
add_test(NAME cli.topo_nodes_zero
         COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/cli/expect.sh error "--ranks-per-node must be at least 1, got 0" $<TARGET_FILE:trident>
                 topo --world 4 --ranks-per-node 0 ${NODES_TINY})
add_test(NAME cli.topo_nodes_bad_map_by
         COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/cli/expect.sh error "--map-by.*core" $<TARGET_FILE:trident> topo
                 --world 4 --ranks-per-node 2 --map-by core ${NODES_TINY})
add_test(NAME cli.topo_map_by_needs_ranks_per_node
         COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/cli/expect.sh error "--map-by requires --ranks-per-node"
                 $<TARGET_FILE:trident> topo --world 4 --map-by node ${NODES_TINY})
set_tests_properties(cli.topo_nodes_by_slot cli.topo_nodes_round_robin cli.topo_nodes_expert_parallel
                     cli.topo_nodes_expert_parallel_table cli.topo_nodes_not_dividing cli.topo_nodes_zero
                     cli.topo_nodes_bad_map_by cli.topo_map_by_needs_ranks_per_node PROPERTIES LABELS unit TIMEOUT 60)

# trident_nodes_train(NAME name RANKS host[,VAR=value...]... EXPECT pattern... [ARGS arg...]): one training
# step under `mpirun -np 1 -x TRIDENT_HOSTNAME=host [-x VAR=value] trident train ... : -np 1 ...`, one app
# context per rank; it must exit 0 with output matching every EXPECT pattern (!pattern: matching none), as
# one Perl regex of lookaheads for tests/cli/expect.sh.
# OMP_NUM_THREADS is removed, so the thread count comes from the affinity mask.
function(trident_nodes_train)
  cmake_parse_arguments(N "" "NAME" "RANKS;EXPECT;ARGS" ${ARGN})
  set(train $<TARGET_FILE:trident> train ${NODES_TINY} --set data.train_path=${NODES_DATA}/fortunes/train.bin
      --set data.val_path=${NODES_DATA}/fortunes/val.bin --set train.steps=1 --set optim.warmup_steps=0
      --set train.sample_tokens=0 --set train.eval_steps=1 --out ${NODES_DATA}/nodes_${N_NAME} ${N_ARGS})
  set(contexts)
  foreach(entry ${N_RANKS})
    string(REPLACE "," ";" parts "${entry}")
    list(POP_FRONT parts host)
    if(contexts)
      list(APPEND contexts :)
    endif()
    list(APPEND contexts ${MPIEXEC_NUMPROC_FLAG} 1 -x TRIDENT_HOSTNAME=${host})
    foreach(var ${parts})
      list(APPEND contexts -x ${var})
    endforeach()
    list(APPEND contexts ${train})
  endforeach()
  set(regex "^")
  foreach(p ${N_EXPECT})
    if(p MATCHES "^!(.*)")
      string(APPEND regex "(?!.*${CMAKE_MATCH_1})")
    else()
      string(APPEND regex "(?=.*${p})")
    endif()
  endforeach()
  add_test(NAME cli.nodes.${N_NAME}
           COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/cli/expect.sh ok "${regex}" env -u OMP_NUM_THREADS
                   ${MPIEXEC_EXECUTABLE} --oversubscribe ${contexts})
  set_tests_properties(cli.nodes.${N_NAME} PROPERTIES LABELS multirank TIMEOUT 120 PROCESSORS 2
                       ENVIRONMENT "${TRIDENT_MPI_TEST_ENV}" FIXTURES_REQUIRED fortunes_data)
endfunction()

# Ranks filled node by node: the tp groups [0,1] and [2,3] stay inside node-a and node-b; same settings.
trident_nodes_train(NAME tp_inside_nodes RANKS node-a node-a node-b node-b ARGS --set parallel.tensor=2
                    EXPECT "node: host node-a \\(node 0 of 2\\), 2 local ranks, [0-9]+ cores? in its affinity mask.*, [0-9]+ threads? \\(from: affinity\\)"
                           "!spans nodes" "!different settings")
# Round robin, as mpirun --map-by node places them: both tp groups span the two nodes, and rank 0 says so.
trident_nodes_train(NAME tp_spans_nodes RANKS node-a node-b node-a node-b ARGS --set parallel.tensor=2
                    EXPECT "warning: tensor-parallel groups tp\\[0,1\\], tp\\[2,3\\] span nodes node-a, node-b: tp traffic is the heaviest and belongs inside a node; launch with --map-by slot"
                           "node: host node-a \\(node 0 of 2\\), 2 local ranks" "!different settings")
# One node runs other OpenBLAS kernels: the warning names the setting, both nodes and the mpirun -x fix.
trident_nodes_train(NAME numerics_differ
                    RANKS node-a,OPENBLAS_CORETYPE=Haswell node-b,OPENBLAS_CORETYPE=Sandybridge
                    EXPECT "warning: ranks run with different settings that change arithmetic"
                           "OPENBLAS_CORETYPE: 'Haswell' on node-a \\(rank 0\\) vs 'Sandybridge' on node-b \\(rank 1\\)"
                           "blas core: '[A-Za-z]+' on node-a \\(rank 0\\) vs '[A-Za-z]+' on node-b \\(rank 1\\)"
                           "forward the same value to every rank with mpirun -x OPENBLAS_CORETYPE" "!spans nodes")

# trident info says how many threads a rank started here would use, and from what, and its numerics settings.
add_test(NAME cli.info_threads_and_numerics
         COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/cli/expect.sh ok
                 "CPU threads per rank: 3 \\(from: OMP_NUM_THREADS; [0-9]+ cores in the affinity mask\\)\\nnumerics: trident: .*blas core: Haswell.*OPENBLAS_CORETYPE: Haswell \\| threads: 3"
                 env OMP_NUM_THREADS=3 OPENBLAS_CORETYPE=Haswell $<TARGET_FILE:trident> info)
set_tests_properties(cli.info_threads_and_numerics PROPERTIES LABELS unit TIMEOUT 60)
