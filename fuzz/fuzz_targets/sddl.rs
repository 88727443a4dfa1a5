//! libFuzzer entry for the `sddl` check of [`devwb_fuzz::sddl`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    devwb_fuzz::sddl(data);
});
