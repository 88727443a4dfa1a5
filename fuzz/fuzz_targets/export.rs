//! libFuzzer entry over writeback's export reader and planner: arbitrary bytes as a Graph page
//! and as JSON Lines (the check is `devwb_fuzz::export`, shared with `cargo xtask fuzz`). Seeds:
//! `fuzz/corpus/export/`, small exports kept in the repository.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    devwb_fuzz::export(data);
});
