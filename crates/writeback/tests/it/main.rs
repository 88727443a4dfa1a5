//! Integration tests of device writeback against the in-process simulator, over real LDAPS.

mod delta; // 10,000 devices, no-change rerun, 10% changed, removals, second forest, bad records
mod faults; // the simulator's fault injection: busy, unavailable, dropped connections
mod harness; // a prepared simulator forest, a connector account, a client, helpers
mod resume; // a run killed mid-apply (a real process kill) and rerun
