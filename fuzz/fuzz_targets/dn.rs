//! libFuzzer entry for the `dn` check of [`devwb_fuzz::dn`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    devwb_fuzz::dn(data);
});
