# Training integration tests (tests/train/*_test.sh): encode-dataset, train,
# export. Included from tests/CMakeLists.txt after SV and TINY_MODEL are set.
# One OpenMP thread: the kill test times kills against the run's own pace.
set(TRAIN_TESTS_DIR ${CMAKE_CURRENT_LIST_DIR})
set(TRAIN_TESTS_WORK ${CMAKE_CURRENT_BINARY_DIR}/train)

# stepvideo_train_test(NAME TIMEOUT): runs tests/train/NAME_test.sh SV TINY_MODEL WORK_DIR.
function(stepvideo_train_test name timeout)
  add_test(NAME train.${name} COMMAND bash ${TRAIN_TESTS_DIR}/${name}_test.sh ${SV} ${TINY_MODEL}
    ${TRAIN_TESTS_WORK}/${name})
  set_tests_properties(train.${name} PROPERTIES LABELS train FIXTURES_REQUIRED tiny_model
    TIMEOUT ${timeout} ENVIRONMENT "OMP_NUM_THREADS=1")
endfunction()

stepvideo_train_test(encode_dataset 180)  # about 6 s
stepvideo_train_test(bad_input 180)       # about 4 s
stepvideo_train_test(outputs 300)         # about 15 s
stepvideo_train_test(kill_resume 600)     # about 45 s
stepvideo_train_test(learns 900)          # about 4 min (1500 steps on one thread)
stepvideo_train_test(vae_train 300)     # about 30 s
stepvideo_train_test(cascade 600)         # the five-stage recipe on the tiny model
stepvideo_train_test(make_dataset 180)    # about 10 s

if(DEFINED MPIRUN)
  string(REPLACE ";" " " _launcher "${MPIRUN};2;${MPIRUN_FLAGS}")
  add_test(NAME mpi.encode_dataset COMMAND bash ${TRAIN_TESTS_DIR}/encode_dataset_test.sh ${SV} ${TINY_MODEL}
    ${TRAIN_TESTS_WORK}/mpi_encode_dataset)
  set_tests_properties(mpi.encode_dataset PROPERTIES LABELS "mpi;train" FIXTURES_REQUIRED tiny_model PROCESSORS 2
    TIMEOUT 300 ENVIRONMENT "${MPI_TEST_ENV};MPIRUN=${_launcher}")
  # Up to 4 ranks of one thread each, like the other 4-rank MPI tests.
  string(REPLACE ";" " " _mpiexec "${MPIRUN}")
  string(REPLACE ";" " " _mpiexec_flags "${MPIRUN_FLAGS}")
  add_test(NAME mpi.train.parallel COMMAND bash ${TRAIN_TESTS_DIR}/parallel_training_test.sh ${SV} ${TINY_MODEL}
    ${TRAIN_TESTS_WORK}/parallel)
  set_tests_properties(mpi.train.parallel PROPERTIES LABELS "mpi;train" FIXTURES_REQUIRED tiny_model
    PROCESSORS 2 TIMEOUT 900 ENVIRONMENT "${MPI_TEST_ENV};MPIEXEC=${_mpiexec};MPIEXEC_FLAGS=${_mpiexec_flags}")
  add_test(NAME mpi.train.dpo COMMAND bash ${TRAIN_TESTS_DIR}/dpo_test.sh ${SV} ${TINY_MODEL}
    ${TRAIN_TESTS_WORK}/dpo)
  set_tests_properties(mpi.train.dpo PROPERTIES LABELS "mpi;train" FIXTURES_REQUIRED tiny_model PROCESSORS 2
    TIMEOUT 600 ENVIRONMENT "${MPI_TEST_ENV};MPIEXEC=${_mpiexec};MPIEXEC_FLAGS=${_mpiexec_flags}")
  add_test(NAME mpi.train.token_batches COMMAND bash ${TRAIN_TESTS_DIR}/token_batches_test.sh ${SV} ${TINY_MODEL}
    ${TRAIN_TESTS_WORK}/token_batches)
  set_tests_properties(mpi.train.token_batches PROPERTIES LABELS "mpi;train" FIXTURES_REQUIRED tiny_model
    PROCESSORS 2 TIMEOUT 300 ENVIRONMENT "${MPI_TEST_ENV};MPIEXEC=${_mpiexec};MPIEXEC_FLAGS=${_mpiexec_flags}")
  add_test(NAME mpi.bench_train_bytes COMMAND bash ${TRAIN_TESTS_DIR}/bench_bytes_test.sh ${SV})
  set_tests_properties(mpi.bench_train_bytes PROPERTIES LABELS "mpi;train" PROCESSORS 2 TIMEOUT 300
    ENVIRONMENT "${MPI_TEST_ENV};MPIEXEC=${_mpiexec};MPIEXEC_FLAGS=${_mpiexec_flags}")
endif()

# scripts/train-default-model.sh --quick --install, then init-model --preset tiny on its result.
add_test(NAME train.default_model COMMAND bash ${TRAIN_TESTS_DIR}/default_model_test.sh ${SV}
  ${CMAKE_SOURCE_DIR}/scripts/train-default-model.sh ${TRAIN_TESTS_WORK}/default_model)
set_tests_properties(train.default_model PROPERTIES LABELS train TIMEOUT 900 ENVIRONMENT "OMP_NUM_THREADS=1")
