//! Fault injection: writeback converges through busy, unavailable and dropped connections.
