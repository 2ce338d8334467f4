# SPDX-License-Identifier: Apache-2.0
# ctest driver for loom_mpi_fault: the job must fail (not hang) within LIMIT seconds, its output must
# contain EXPECT, and the checkpoint of the last whole epoch must load in a new process.
file(REMOVE ${CKPT})
string(TIMESTAMP t0 "%s")
execute_process(COMMAND ${MPIEXEC} ${MPIFLAGS} -np 2 ${FAULT} ${MODE} ${CKPT}
  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err TIMEOUT ${LIMIT})
string(TIMESTAMP t1 "%s")
math(EXPR took "${t1} - ${t0}")
message(STATUS "mpirun exited with '${rc}' after ${took} s\n--- stdout\n${out}\n--- stderr\n${err}")
if(rc EQUAL 0 OR rc MATCHES "timeout")
  message(FATAL_ERROR "the job did not fail as it should within ${LIMIT} s (result: ${rc})")
endif()
string(REPLACE "\n" " " all "${out} ${err}")
if(NOT all MATCHES "${EXPECT}")
  message(FATAL_ERROR "the output does not say '${EXPECT}'")
endif()
execute_process(COMMAND ${FAULT} load ${CKPT} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "the last checkpoint does not load (${rc}):\n${out}\n${err}")
endif()
message(STATUS "${out}")
