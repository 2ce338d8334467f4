# SPDX-License-Identifier: Apache-2.0
# ctest driver: one process trains and saves a model, a second loads it and must predict the same bits.
file(MAKE_DIRECTORY ${WORK_DIR})
foreach(mode save load)
  execute_process(COMMAND ${CHECK} ${mode} ${WORK_DIR}/model.safetensors ${WORK_DIR}/predictions.safetensors
    RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${mode} failed (${rc}):\n${out}\n${err}")
  endif()
  message(STATUS "${out}")
endforeach()
