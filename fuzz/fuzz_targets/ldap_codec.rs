//! libFuzzer entry over the simulator's LDAP framer, decoder and request handler: arbitrary
//! bytes as a client's stream (the check is `devwb_fuzz::ldap_codec`, shared with `cargo xtask
//! fuzz`). Seeds: `fuzz/corpus/ldap_codec/*.ber`, small valid messages kept in the repository.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    devwb_fuzz::ldap_codec(data);
});
