# Slurm tests: each starts a private single-node cluster (slurm/local_cluster.sh) and runs
# the sbatch templates for real: generation over 2 tasks, preemption with requeue and
# resume, and training stopped by USR1, requeued and resumed. They need root and Debian's
# slurm-wlm + munge (scripts/setup.sh) and fail, never skip, when the cluster cannot
# start. One at a time: each uses every CPU of the node.
foreach(_t generate preempt train)
  add_test(NAME slurm.${_t}
    COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/slurm/slurm_${_t}_test.sh $<TARGET_FILE:stepvideo>
      ${TINY_MODEL} ${CMAKE_CURRENT_BINARY_DIR}/slurm_${_t}_work ${PROJECT_SOURCE_DIR}/slurm)
  set_tests_properties(slurm.${_t} PROPERTIES LABELS slurm RESOURCE_LOCK slurm TIMEOUT 600
    PROCESSORS 2 FIXTURES_REQUIRED tiny_model ENVIRONMENT "OMP_NUM_THREADS=1;STEPVIDEO_CHECK_COLLECTIVES=1")
endforeach()
