//! Entra device source, mapping to msDS-Device entries, diff into a change plan, bulk apply.
