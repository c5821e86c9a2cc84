# MPI tests: real ranks under mpirun, oversubscribed on small machines, as root
# when CI runs as root. One OpenMP thread per rank: more spin against each other.
set(MPIRUN ${MPIEXEC_EXECUTABLE} ${MPIEXEC_NUMPROC_FLAG})
set(MPIRUN_FLAGS ${MPIEXEC_PREFLAGS} --oversubscribe --allow-run-as-root)
# Every MPI test runs with the collective guard on: a rank that takes a different
# sequence of collectives than its peers fails with both descriptions.
set(MPI_TEST_ENV "OMP_NUM_THREADS=1;OMPI_MCA_rmaps_base_oversubscribe=1;STEPVIDEO_CHECK_COLLECTIVES=1")

add_executable(stepvideo_mpi_tests mpi/test_dit_parallel.cpp)
target_compile_options(stepvideo_mpi_tests PRIVATE ${STEPVIDEO_WARNINGS})
target_link_libraries(stepvideo_mpi_tests PRIVATE stepvideo_core GTest::gtest)

# The collective guard (STEPVIDEO_CHECK_COLLECTIVES): matching operations pass, every
# kind of mismatch fails on every rank with each rank's operation named. And the
# data-parallel gradient reduction: exact sums, the same bits on every rank; ZeRO-1
# (ShardedAdamW): the same weights and moments as AdamW on the summed gradients.
add_executable(stepvideo_mpi_comm_tests mpi/test_checked_communicator.cpp mpi/test_gradient_reduction.cpp
                                        mpi/test_sharded_adamw.cpp)
target_compile_options(stepvideo_mpi_comm_tests PRIVATE ${STEPVIDEO_WARNINGS})
target_link_libraries(stepvideo_mpi_comm_tests PRIVATE stepvideo_core GTest::gtest)
foreach(_ranks 2 3)
  add_test(NAME mpi.checked_communicator.np${_ranks}
    COMMAND ${MPIRUN} ${_ranks} ${MPIRUN_FLAGS} $<TARGET_FILE:stepvideo_mpi_comm_tests>)
  set_tests_properties(mpi.checked_communicator.np${_ranks} PROPERTIES LABELS mpi PROCESSORS ${_ranks}
    TIMEOUT 120 ENVIRONMENT "${MPI_TEST_ENV}")
endforeach()

# stepvideo_mpi_layout_test(LAYOUT RANKS): DiT forward, denoising and a training step
# (1F1B under pp) under LAYOUT equal 1 rank.
function(stepvideo_mpi_layout_test layout ranks)
  string(REPLACE "," "_" name "${layout}")
  add_test(NAME mpi.dit_equivalence.${name}
    COMMAND ${MPIRUN} ${ranks} ${MPIRUN_FLAGS} $<TARGET_FILE:stepvideo_mpi_tests>)
  set_tests_properties(mpi.dit_equivalence.${name} PROPERTIES LABELS mpi PROCESSORS ${ranks}
    TIMEOUT 300 ENVIRONMENT "${MPI_TEST_ENV};STEPVIDEO_TEST_LAYOUT=${layout}")
endfunction()
stepvideo_mpi_layout_test("tp=2" 2)
stepvideo_mpi_layout_test("sp=2" 2)
stepvideo_mpi_layout_test("tp=2,sp=2" 4)
stepvideo_mpi_layout_test("sp=4" 4)
stepvideo_mpi_layout_test("cfg=2" 2)
stepvideo_mpi_layout_test("pp=2" 2)
stepvideo_mpi_layout_test("tp=2,pp=2" 4)
stepvideo_mpi_layout_test("sp=2,pp=2" 4)
stepvideo_mpi_layout_test("cfg=2,pp=2" 4)

# The whole pipeline under mpirun: sp=2 DiT and the VAE chunks over both ranks.
add_test(NAME mpi.generate_sp2 COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/mpi/generate_mpi_test.sh
  ${MPIRUN} 2 ${MPIRUN_FLAGS} -- $<TARGET_FILE:stepvideo> ${TINY_MODEL} ${CMAKE_CURRENT_BINARY_DIR}/generate_mpi_out)
set_tests_properties(mpi.generate_sp2 PROPERTIES LABELS mpi PROCESSORS 2 TIMEOUT 300
  FIXTURES_REQUIRED tiny_model ENVIRONMENT "${MPI_TEST_ENV}")
