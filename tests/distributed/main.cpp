// SPDX-License-Identifier: Apache-2.0
// The Catch2 main of loom_mpi_tests, run under `mpirun -np 2`: MPI lives for the whole session, and
// only rank 0 reports unless a rank fails (then that rank's report says which).
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <loom/distributed/multi_worker.hpp>

int main(int argc, char** argv) {
  loom::distributed::Environment mpi(argc, argv);
  Catch::Session session;
  if (const int rc = session.applyCommandLine(argc, argv); rc != 0) return rc;
  return session.run();
}
