//! libFuzzer entry over the simulator's LDAP framer and decoder: arbitrary bytes as a client's
//! stream. Framing and decoding may refuse the input but must never panic, and every answer the
//! server would send for an undecodable message must itself be a well-formed LDAP message.
#![no_main]

use devwb_simulator::codec::{self, Limits, Undecodable};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let limits = Limits {
        max_message_bytes: 64 * 1024,
        max_nesting: 64,
        ..Limits::default()
    };
    let mut rest = data;
    while let Ok(Some(length)) = codec::frame_length(rest, &limits) {
        let Some((message, after)) = (length <= rest.len()).then(|| rest.split_at(length)) else {
            break;
        };
        match codec::decode(message, &limits) {
            Ok(_) => {}
            Err(Undecodable::Answer(response)) | Err(Undecodable::Disconnect(response)) => {
                let bytes = codec::encode(&response);
                assert!(rasn::ber::decode::<rasn_ldap::LdapMessage>(&bytes).is_ok(), "the server's own answer must decode");
            }
        }
        rest = after;
    }
});
