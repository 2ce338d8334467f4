# SPDX-License-Identifier: Apache-2.0
# ctest driver: 4 epochs in one process vs 2 epochs + checkpoint + 2 more in a new process: identical weights.
file(MAKE_DIRECTORY ${WORK_DIR})
function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "command failed (${rc}): ${ARGN}\n${out}\n${err}")
  endif()
  message(STATUS "${out}")
endfunction()
run(${CHECK} full ${WORK_DIR}/full.safetensors)
run(${CHECK} first ${WORK_DIR}/checkpoint.safetensors)
run(${CHECK} second ${WORK_DIR}/checkpoint.safetensors ${WORK_DIR}/resumed.safetensors)
run(${CHECK} compare ${WORK_DIR}/full.safetensors ${WORK_DIR}/resumed.safetensors)
