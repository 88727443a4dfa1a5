//! End-to-end tests of prepare against the in-process simulator.
