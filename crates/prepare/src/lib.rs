//! Plans the forest preparation for device writeback as data and applies it through the client crate.
