//! Integration tests of devwb-verify, one module per area.

// Fixtures: a prepared forest as `Observed`, and the ways it goes wrong.
mod fixtures;
// Table tests of the checks: one helper, one case per failure mode.
mod checks;
// Snapshots of the human report and the JSON shape.
mod render;
