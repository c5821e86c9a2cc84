# The labelling page (`stepvideo label`) in a real headless Chromium driven by
# chromedriver (scripts/setup.sh installs both). Included from
# tests/CMakeLists.txt after SV and TINY_MODEL are set.
add_test(NAME label.page COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/label_test.sh ${SV} ${TINY_MODEL}
  ${CMAKE_CURRENT_BINARY_DIR}/label)
set_tests_properties(label.page PROPERTIES LABELS label FIXTURES_REQUIRED tiny_model TIMEOUT 300
  ENVIRONMENT "OMP_NUM_THREADS=1")
