//! libFuzzer entry for the `sd_binary` check of [`devwb_fuzz::sd_binary`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    devwb_fuzz::sd_binary(data);
});
