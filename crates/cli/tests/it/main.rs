//! Integration tests of the `devwb` binary and of the libraries it glues, one module per area.

// A simulator forest per test, and running the built binary against it.
mod support;
// Arguments, help and exit codes that need no directory.
mod usage;
// verify and prepare end to end through the command line, against the simulator.
mod cli_e2e;
// The same scenarios through the libraries (devwb-prepare, devwb-verify) instead of the binary.
mod library_e2e;
// The README's first command, `devwb demo`, run as a user would.
mod demo;
// writeback --tenant and sync against the simulator and its fake Entra tenant.
mod sync;
// sync --once, full then delta round, into the simulator and into a real Samba AD DC.
mod sync_backends;
// A forest of several domains: writeback into a child domain's container from the root's DC.
mod forest;
