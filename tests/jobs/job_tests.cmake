# `stepvideo run` integration tests: kill -9 and resume, bad manifests, the run
# lock, a full disk, failed items and --retry-failed, preemption and resume.
# Included from tests/CMakeLists.txt after SV and TINY_MODEL are set. One
# OpenMP thread: the tests time kills and signals against the run's own pace.
set(JOB_TESTS_DIR ${CMAKE_CURRENT_LIST_DIR})
set(JOB_TESTS_WORK ${CMAKE_CURRENT_BINARY_DIR}/jobs)

# stepvideo_job_test(NAME TIMEOUT): runs tests/jobs/NAME_test.sh SV TINY_MODEL WORK_DIR.
function(stepvideo_job_test name timeout)
  add_test(NAME jobs.${name} COMMAND bash ${JOB_TESTS_DIR}/${name}_test.sh ${SV} ${TINY_MODEL}
    ${JOB_TESTS_WORK}/${name})
  set_tests_properties(jobs.${name} PROPERTIES LABELS jobs FIXTURES_REQUIRED tiny_model
    TIMEOUT ${timeout} ENVIRONMENT "OMP_NUM_THREADS=1")
endfunction()

stepvideo_job_test(kill_resume 600)      # about 100 s on 2 busy cores
stepvideo_job_test(bad_manifest 180)     # about 8 s
stepvideo_job_test(lock 180)             # about 17 s
stepvideo_job_test(disk_full 300)        # about 25 s
stepvideo_job_test(status_retry 180)     # about 10 s
stepvideo_job_test(preempt_resume 300)   # about 35 s
stepvideo_job_test(candidates 180)       # about 15 s

# Stop signals by the thousand during denoising, and one pending from exec.
add_executable(stepvideo_exec_with_pending_signal ${JOB_TESTS_DIR}/../helpers/exec_with_pending_signal.cpp)
target_compile_options(stepvideo_exec_with_pending_signal PRIVATE ${STEPVIDEO_WARNINGS})
add_test(NAME jobs.signal_storm COMMAND bash ${JOB_TESTS_DIR}/signal_storm_test.sh ${SV} ${TINY_MODEL}
  ${JOB_TESTS_WORK}/signal_storm $<TARGET_FILE:stepvideo_exec_with_pending_signal>)
set_tests_properties(jobs.signal_storm PROPERTIES LABELS jobs FIXTURES_REQUIRED tiny_model TIMEOUT 300
  ENVIRONMENT "OMP_NUM_THREADS=1")
# disk_full mounts a tmpfs: without root/CAP_SYS_ADMIN it exits 77 and says so.
set_tests_properties(jobs.disk_full PROPERTIES SKIP_RETURN_CODE 77)
