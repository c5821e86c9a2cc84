# CLI behaviour on bad input: one clear stderr line and the documented exit code.
set(BAD ${CMAKE_CURRENT_BINARY_DIR}/bad_inputs)
add_test(NAME cli.make_bad_inputs COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/cli/make_bad_inputs.sh ${BAD})
set_tests_properties(cli.make_bad_inputs PROPERTIES FIXTURES_SETUP bad_inputs)

# stepvideo_cli_test(NAME SETUP EXIT_CODE STDERR_REGEX ARGS...): runs stepvideo ARGS after the
# ctest fixture SETUP has written its files.
function(stepvideo_cli_test name setup code regex)
  add_test(NAME cli.${name} COMMAND bash ${EXPECT} ${code} "${regex}" ${SV} ${ARGN})
  set_tests_properties(cli.${name} PROPERTIES FIXTURES_REQUIRED ${setup} LABELS cli)
endfunction()

# Exit codes: 2 usage, 4 checkpoint, 5 input (README, "Exit codes").
stepvideo_cli_test(inspect_missing_path bad_inputs 4 "no-such-file.safetensors.*(no such file|does not exist)"
  inspect ${BAD}/no-such-file.safetensors)
stepvideo_cli_test(inspect_truncated bad_inputs 4 "truncated.safetensors.*(truncated|outside|beyond|region)"
  inspect ${BAD}/truncated.safetensors)
stepvideo_cli_test(inspect_offsets_outside bad_inputs 4 "outside.safetensors.*'w'"
  inspect ${BAD}/outside.safetensors)
stepvideo_cli_test(inspect_unknown_dtype bad_inputs 4 "dtype.safetensors.*Q8"
  inspect ${BAD}/dtype.safetensors)
stepvideo_cli_test(inspect_too_small bad_inputs 4 "tiny.safetensors"
  inspect ${BAD}/tiny.safetensors)
stepvideo_cli_test(verify_missing_dir bad_inputs 5 "no-such-case"
  verify ${BAD}/no-such-case)
stepvideo_cli_test(unknown_command bad_inputs 2 "unknown command 'frobnicate'" frobnicate)
stepvideo_cli_test(bench_bad_option bad_inputs 2 "heads" bench dit --heads 0)

add_test(NAME cli.inspect_good COMMAND ${SV} inspect ${BAD}/good.safetensors)
set_tests_properties(cli.inspect_good PROPERTIES FIXTURES_REQUIRED bad_inputs LABELS cli
  PASS_REGULAR_EXPRESSION "w +F32 +\\[2, 2\\] +16")
