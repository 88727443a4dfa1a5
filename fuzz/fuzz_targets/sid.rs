//! libFuzzer entry for the `sid` check of [`devwb_fuzz::sid`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    devwb_fuzz::sid(data);
});
