# The watchdog's roll call: when ranks never enter a collective, the ranks that wait in it must name exactly
# those ranks, whether stopped (SIGSTOP: nothing of them answers) or alive elsewhere, and the job must end
# non-zero within timeout (2 s) + grace (2 s) + start-up (tests/multirank/roll_call_main.cpp). A "!" pattern
# must match nothing: no rank may name a rank that did enter the collective. A "." stands for each ";" of the
# message, which CMake would take for a list separator.
add_executable(trident_roll_call_main ${CMAKE_CURRENT_SOURCE_DIR}/multirank/roll_call_main.cpp)
target_link_libraries(trident_roll_call_main PRIVATE trident_train)
set(ROLL_CALL_EXPECT bash ${CMAKE_CURRENT_SOURCE_DIR}/multirank/expect_failure.sh 25)
set(ROLL_CALL_HEAD "collective #5 all_reduce on group")
trident_mpi_test(NAME multirank.watchdog_names_a_stopped_rank NP 4 LABELS multirank TIMEOUT 60
                 LAUNCHER ${ROLL_CALL_EXPECT}
                          "\\[rank [0-2]\\] ${ROLL_CALL_HEAD} 'world' \\(f32 x 1024, sum\\) did not complete within 2.0 s. ranks that never entered it: 3\\. rank 3 \\(host [^)]+\\) did not answer within 2.0 s"
                          "!never entered it: [0-2]" --
                 COMMAND $<TARGET_FILE:trident_roll_call_main> stop 3)
trident_mpi_test(NAME multirank.watchdog_names_two_stopped_ranks NP 4 LABELS multirank TIMEOUT 60
                 LAUNCHER ${ROLL_CALL_EXPECT}
                          "\\[rank [02]\\] ${ROLL_CALL_HEAD} 'world' .* ranks that never entered it: 1, 3\\. ranks 1,3 \\(host [^)]+\\) did not answer within 2.0 s"
                          "!never entered it: (0|2|1, 2|1, 3, |3)" --
                 COMMAND $<TARGET_FILE:trident_roll_call_main> stop 1,3)
trident_mpi_test(NAME multirank.watchdog_names_a_sleeping_rank NP 4 LABELS multirank TIMEOUT 60
                 LAUNCHER ${ROLL_CALL_EXPECT}
                          "\\[rank [013]\\] ${ROLL_CALL_HEAD} 'world' .* ranks that never entered it: 2\\. rank 2 \\(host [^)]+\\) last started #4 on 'world' and is in no communication op now"
                          "!never entered it: [013]" "!did not answer" --
                 COMMAND $<TARGET_FILE:trident_roll_call_main> sleep 2)
trident_mpi_test(NAME multirank.watchdog_names_a_stopped_rank_of_a_subgroup NP 4 LABELS multirank TIMEOUT 60
                 LAUNCHER ${ROLL_CALL_EXPECT}
                          "\\[rank 1\\] ${ROLL_CALL_HEAD} 'odd\\[1,3\\]' .* ranks that never entered it: 3\\. rank 3 \\(host [^)]+\\) did not answer"
                          "!never entered it: [0-2]" "!\\[rank [023]\\] collective" --
                 COMMAND $<TARGET_FILE:trident_roll_call_main> split 3)
trident_mpi_test(NAME multirank.watchdog_names_the_cause_of_a_chain NP 4 LABELS multirank TIMEOUT 60
                 LAUNCHER ${ROLL_CALL_EXPECT}
                          "\\[rank 1\\] ${ROLL_CALL_HEAD} 'b\\[1,2\\]' .* ranks that never entered it: 2\\. rank 2 \\(host [^)]+\\) did not answer"
                          "!\\[rank [023]\\] collective" --
                 COMMAND $<TARGET_FILE:trident_roll_call_main> chain 2)
