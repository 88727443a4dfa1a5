//! Integration tests of device writeback against the in-process simulator, over real LDAPS.

// Helpers outside #[test] functions may unwrap (a failure is a test failure) and print (the
// child process of the resume test talks to its parent on standard output).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::print_stderr
)]

mod delta; // 10,000 devices, no-change rerun, 10% changed, removals, second forest, bad records
mod faults; // the simulator's fault injection: busy, unavailable, dropped connections
mod fixtures; // testdata/graph exports beside their expected reports
mod harness; // a prepared simulator forest, a connector account, a client, helpers
mod resume; // a run killed mid-apply (a real process kill) and rerun
mod safety; // exports that cannot be the whole truth, the deletion limit, the undo file
