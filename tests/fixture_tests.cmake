# Registers one ctest per public reference case whose kind `stepvideo verify`
# supports, and the tests that need fixture data files.
set(STEPVIDEO_VERIFY_KINDS dit dit_train_step dit_train_steps dit_dpo_step scheduler denoise vae_decode vae_encode step_tokenizer bert_tokenizer bert step_llm)

file(GLOB _case_files "${STEPVIDEO_FIXTURES}/*/case.json")
set(_unsupported "")
foreach(_case_file IN LISTS _case_files)
  get_filename_component(_dir "${_case_file}" DIRECTORY)
  get_filename_component(_case "${_dir}" NAME)
  file(READ "${_case_file}" _json)
  string(JSON _kind GET "${_json}" kind)
  if(_kind IN_LIST STEPVIDEO_VERIFY_KINDS)
    add_test(NAME fixture.${_case} COMMAND $<TARGET_FILE:stepvideo> verify "${_dir}")
    set_tests_properties(fixture.${_case} PROPERTIES LABELS "fixtures;${_kind}")
  else()
    list(APPEND _unsupported "${_case} (${_kind})")
  endif()
endforeach()
list(LENGTH _case_files _n_cases)
message(STATUS "stepvideo: ${_n_cases} fixture cases in ${STEPVIDEO_FIXTURES}; not yet supported: ${_unsupported}")

file(GLOB STEPVIDEO_FIXTURE_TESTS CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/fixture/*.cpp)
add_executable(stepvideo_fixture_tests ${STEPVIDEO_FIXTURE_TESTS})
target_compile_options(stepvideo_fixture_tests PRIVATE ${STEPVIDEO_WARNINGS})
target_link_libraries(stepvideo_fixture_tests PRIVATE stepvideo_core GTest::gtest GTest::gtest_main)
target_compile_definitions(stepvideo_fixture_tests PRIVATE
  STEPVIDEO_TEST_FIXTURES="${STEPVIDEO_FIXTURES}")
gtest_discover_tests(stepvideo_fixture_tests DISCOVERY_TIMEOUT 60 PROPERTIES LABELS fixtures)

# The CLI on broken copies of a real case: one clear line, the documented code.
set(BROKEN ${CMAKE_CURRENT_BINARY_DIR}/broken_cases)
add_test(NAME cli.make_broken_cases COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/cli/make_broken_cases.sh
  ${STEPVIDEO_FIXTURES} ${BROKEN})
set_tests_properties(cli.make_broken_cases PROPERTIES FIXTURES_SETUP broken_cases)
stepvideo_cli_test(verify_config_missing_key broken_cases 3 "config.json: missing key 'num_layers'"
  verify ${BROKEN}/missing_key)
stepvideo_cli_test(verify_truncated_weights broken_cases 4 "model.safetensors.*truncated"
  verify ${BROKEN}/truncated_weights)
stepvideo_cli_test(verify_wrong_shape broken_cases 4 "mis-shaped tensor.*attn1.wqkv.weight is \\[768, 256\\] in the file, the model expects \\[1152, 384\\]"
  verify ${BROKEN}/wrong_shape)

# Parallel verify: `mpirun -np N stepvideo verify --layout L CASE` for every DiT
# case whose head count the layout divides (dit_4heads exists for this).
if(DEFINED MPIRUN)
  function(stepvideo_mpi_verify_test layout ranks)
    string(REPLACE "," "_" name "${layout}")
    set(cases "")
    foreach(case ${ARGN})
      list(APPEND cases "${STEPVIDEO_FIXTURES}/${case}")
    endforeach()
    add_test(NAME mpi.verify.${name}
      COMMAND ${MPIRUN} ${ranks} ${MPIRUN_FLAGS} $<TARGET_FILE:stepvideo> verify --layout ${layout} ${cases})
    set_tests_properties(mpi.verify.${name} PROPERTIES LABELS "mpi;fixtures" PROCESSORS ${ranks}
      TIMEOUT 300 ENVIRONMENT "${MPI_TEST_ENV}")
  endfunction()
  stepvideo_mpi_verify_test("tp=2" 2 dit_tiny dit_4heads denoise_tiny)
  stepvideo_mpi_verify_test("sp=2" 2 dit_tiny dit_4heads denoise_tiny)
  stepvideo_mpi_verify_test("tp=2,sp=2" 4 dit_4heads)
  stepvideo_mpi_verify_test("tp=4" 4 dit_4heads)
  stepvideo_mpi_verify_test("cfg=2" 2 dit_tiny denoise_tiny)
  stepvideo_mpi_verify_test("pp=2" 2 dit_tiny dit_odd denoise_tiny)

  # An error on any rank ends the whole job promptly, printed once.
  set(EXPECT_MPI ${CMAKE_CURRENT_SOURCE_DIR}/mpi/expect_mpi_failure.sh)
  add_test(NAME mpi.fail.layout_error COMMAND bash ${EXPECT_MPI} 3 "tp x sp = 3 must divide the 2 attention heads" 30
    ${MPIRUN} 3 ${MPIRUN_FLAGS} $<TARGET_FILE:stepvideo> verify --layout tp=3 ${STEPVIDEO_FIXTURES}/dit_tiny)
  add_test(NAME mpi.fail.missing_weights COMMAND bash ${EXPECT_MPI} 4 "model.safetensors: no such file" 30
    ${MPIRUN} 4 ${MPIRUN_FLAGS} $<TARGET_FILE:stepvideo> verify --layout tp=2,sp=2 ${BROKEN}/missing_weights)
  add_test(NAME mpi.fail.world_mismatch COMMAND bash ${EXPECT_MPI} 3 "needs a multiple of tp\\*sp\\*pp\\*cfg = 3 ranks, the world has 4" 30
    ${MPIRUN} 4 ${MPIRUN_FLAGS} $<TARGET_FILE:stepvideo> verify --layout tp=3 ${STEPVIDEO_FIXTURES}/dit_tiny)
  set_tests_properties(mpi.fail.layout_error mpi.fail.missing_weights mpi.fail.world_mismatch
    PROPERTIES LABELS mpi PROCESSORS 2 ENVIRONMENT "${MPI_TEST_ENV}")
  set_tests_properties(mpi.fail.missing_weights PROPERTIES FIXTURES_REQUIRED broken_cases)
endif()
