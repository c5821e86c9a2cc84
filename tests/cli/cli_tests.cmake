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

# init-model: the bundled tiny default. cli.init_model_tiny writes it once for
# every test that runs on a model directory (FIXTURES_REQUIRED tiny_model).
set(TINY_MODEL ${CMAKE_CURRENT_BINARY_DIR}/tiny_model)
stepvideo_cli_test(init_model_unknown_preset bad_inputs 2 "unknown preset 'nope'.*presets: tiny"
  init-model --preset nope --out ${BAD}/unused-model)
add_test(NAME cli.init_model_tiny COMMAND ${SV} init-model --preset tiny-random --out ${TINY_MODEL} --force)
set_tests_properties(cli.init_model_tiny PROPERTIES FIXTURES_SETUP tiny_model LABELS cli
  PASS_REGULAR_EXPRESSION "wrote .*tiny_model \\(preset tiny-random, seed 0\\): 16 files")
stepvideo_cli_test(init_model_not_empty tiny_model 5 "tiny_model: directory exists and is not empty.*--force"
  init-model --preset tiny-random --out ${TINY_MODEL})

# The bundled default (--preset tiny): tiny-random's seed-0 model with the trained weights of models/tiny/
# (scripts/train-default-model.sh --install). It draws held-out captions of the shapes world right
# (bounds below its measured scores, README "The bundled default model").
set(DEFAULT_MODEL ${CMAKE_CURRENT_BINARY_DIR}/default_model)
add_test(NAME cli.init_model_default COMMAND ${SV} init-model --preset tiny --out ${DEFAULT_MODEL} --force)
set_tests_properties(cli.init_model_default PROPERTIES FIXTURES_SETUP default_model LABELS cli
  PASS_REGULAR_EXPRESSION "wrote .*default_model \\(preset tiny, seed 0\\): 16 files"
  FAIL_REGULAR_EXPRESSION "no trained weights bundled")
add_test(NAME cli.default_model COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/cli/default_model_test.sh ${SV}
  ${DEFAULT_MODEL} ${CMAKE_CURRENT_BINARY_DIR}/default_model_out 0.8 0.8 0.5)
set_tests_properties(cli.default_model PROPERTIES FIXTURES_REQUIRED default_model LABELS cli TIMEOUT 600
  ENVIRONMENT OMP_NUM_THREADS=1)

# End-to-end generation on the bundled tiny model.
add_test(NAME cli.generate_tiny COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/cli/generate_test.sh ${SV}
  ${TINY_MODEL} ${CMAKE_CURRENT_BINARY_DIR}/generate_out)
set_tests_properties(cli.generate_tiny PROPERTIES FIXTURES_REQUIRED tiny_model LABELS cli TIMEOUT 600)
stepvideo_cli_test(generate_unknown_preset tiny_model 2 "unknown preset 'fast'"
  generate --model ${TINY_MODEL} --prompt x --out ${BAD}/x.mp4 --preset fast)
stepvideo_cli_test(generate_height_not_positive tiny_model 2 "--height must be between 16 and 4096"
  generate --model ${TINY_MODEL} --prompt x --out ${BAD}/x.mp4 --height -16)
stepvideo_cli_test(generate_missing_model tiny_model 5 "no-such-model: model directory does not exist"
  generate --model ${BAD}/no-such-model --prompt x --out ${BAD}/x.mp4)
stepvideo_cli_test(generate_unwritable_output tiny_model 5 "output directory .* does not exist or is not writable"
  generate --model ${TINY_MODEL} --prompt x --out /proc/stepvideo/x.mp4)
set_tests_properties(cli.generate_unknown_preset cli.generate_height_not_positive
  cli.generate_missing_model cli.generate_unwritable_output PROPERTIES FIXTURES_REQUIRED "tiny_model;bad_inputs")

# The Step-Video-T2V-Eval prompt set (128 Chinese prompts, plain text, from the
# upstream repository's benchmark/) runs as a manifest as it is: every line
# validates, and two of its prompts go through the whole run on the bundled default
# model (its sampling.json: 17 frames of 64x64; the prompts are outside its world).
set(EVAL_SET "${STEPVIDEO_FIXTURES}/../data/step-video-t2v-eval.txt")
if(EXISTS "${EVAL_SET}")
  add_test(NAME cli.run_eval_set_plan COMMAND ${SV} run --model unused --out unused --manifest ${EVAL_SET} --dry-run)
  set_tests_properties(cli.run_eval_set_plan PROPERTIES LABELS "cli;jobs"
    PASS_REGULAR_EXPRESSION "128 plain-text item\\(s\\), 0 bad line\\(s\\)")
  # A fresh --out each time: a rerun after the tiny model changed would (rightly) refuse to resume.
  add_test(NAME cli.run_eval_set_tiny COMMAND bash -c "rm -rf \"$0\" && OMP_NUM_THREADS=1 exec \"$@\" --out \"$0\""
    ${CMAKE_CURRENT_BINARY_DIR}/eval_set_out ${SV} run --model ${DEFAULT_MODEL} --manifest ${EVAL_SET}
    --steps 2 --shard 0/64)
  set_tests_properties(cli.run_eval_set_tiny PROPERTIES LABELS "cli;jobs" FIXTURES_REQUIRED default_model
    TIMEOUT 300 PASS_REGULAR_EXPRESSION "done +2\n")
else()
  message(STATUS "stepvideo: eval-set manifest test not registered: ${EVAL_SET} not found")
endif()

# A model directory's own sampling defaults (sampling.json).
add_test(NAME cli.model_sampling COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/cli/model_sampling_test.sh ${SV} ${TINY_MODEL}
  ${CMAKE_CURRENT_BINARY_DIR}/model_sampling)
set_tests_properties(cli.model_sampling PROPERTIES LABELS cli FIXTURES_REQUIRED tiny_model TIMEOUT 300)

# Nothing a user asks for destroys their files or ends in garbage (issue 13's table).
add_test(NAME cli.hardening COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/cli/hardening_test.sh ${SV} ${TINY_MODEL}
  ${CMAKE_CURRENT_BINARY_DIR}/hardening)
set_tests_properties(cli.hardening PROPERTIES FIXTURES_REQUIRED tiny_model LABELS cli TIMEOUT 600
  ENVIRONMENT "OMP_NUM_THREADS=1")

# generate and run are one pipeline: same frames, same sidecar, same refusals.
add_test(NAME cli.pipeline_parity COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/cli/pipeline_parity_test.sh ${SV}
  ${TINY_MODEL} ${CMAKE_CURRENT_BINARY_DIR}/pipeline_parity)
set_tests_properties(cli.pipeline_parity PROPERTIES FIXTURES_REQUIRED tiny_model LABELS cli TIMEOUT 300
  ENVIRONMENT "OMP_NUM_THREADS=1")
