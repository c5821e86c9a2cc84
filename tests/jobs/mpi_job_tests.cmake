# The job error policy under 4 real ranks (jobs/mpi_faults_test.sh): faults
# injected at one rank of one replica, for both kinds of replica (4 one-rank
# replicas; 2 tensor-parallel pairs, where one rank's error must be agreed).
# Included after mpi_tests.cmake (MPIRUN, MPIRUN_FLAGS, MPI_TEST_ENV). Each test
# takes 7-45 s on 2 cores (preempt most: an unbroken reference run besides).
function(stepvideo_mpi_fault_test scenario layout)
  set(name mpi.jobs.${scenario}.${layout})
  add_test(NAME ${name} COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/jobs/mpi_faults_test.sh ${scenario} ${layout}
    ${MPIRUN} 4 ${MPIRUN_FLAGS} -- ${SV} ${TINY_MODEL} ${CMAKE_CURRENT_BINARY_DIR}/mpi_faults/${scenario}_${layout})
  set_tests_properties(${name} PROPERTIES LABELS "mpi;jobs" PROCESSORS 4 TIMEOUT 300
    FIXTURES_REQUIRED tiny_model ENVIRONMENT "${MPI_TEST_ENV}")
endfunction()
stepvideo_mpi_fault_test(item_errors dp4)
stepvideo_mpi_fault_test(item_errors tp2)
stepvideo_mpi_fault_test(collective tp2)
stepvideo_mpi_fault_test(die dp4)
stepvideo_mpi_fault_test(die tp2)
stepvideo_mpi_fault_test(hang tp2)
stepvideo_mpi_fault_test(slow dp4)
stepvideo_mpi_fault_test(preempt dp4)
stepvideo_mpi_fault_test(preempt tp2)
stepvideo_mpi_fault_test(preempt sp2)
