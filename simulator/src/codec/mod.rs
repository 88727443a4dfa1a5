//! The wire codec: framing BER messages with named limits, decoding requests with rasn-ldap,
//! recovering from messages that do not decode, and encoding responses by hand so attribute
//! values keep their order.
//!
//! Requests are rasn-ldap's types ([`rasn_ldap::LdapMessage`]); responses are this module's
//! [`Response`], which the handler builds and [`encode`] turns into bytes. The codec knows
//! nothing about the directory.

pub mod ber;
pub mod frame;
pub mod increment;

use bytes::Bytes;
use rasn_ldap::LdapMessage;

pub use frame::{check_structure, frame_length, read_head, FrameError, Limits, MessageHead};

use crate::error::{OpError, ResultCode};

/// OID of the Notice of Disconnection (RFC 4511 section 4.4.1).
pub const NOTICE_OF_DISCONNECTION_OID: &str = "1.3.6.1.4.1.1466.20036";

/// The outcome part of a response: RFC 4511's LDAPResult.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    pub code: ResultCode,
    pub matched: String,
    pub message: String,
    /// The LDAP URLs of a `referral` (10) result: where the operation can be done.
    pub referral: Vec<String>,
}

impl Outcome {
    /// `success` with no text.
    pub fn success() -> Outcome {
        Outcome {
            code: ResultCode::SUCCESS,
            matched: String::new(),
            message: String::new(),
            referral: Vec::new(),
        }
    }

    /// A result with a code and a diagnostic message.
    pub fn new(code: ResultCode, message: impl Into<String>) -> Outcome {
        Outcome {
            code,
            matched: String::new(),
            message: message.into(),
            referral: Vec::new(),
        }
    }
}

impl From<OpError> for Outcome {
    fn from(error: OpError) -> Outcome {
        Outcome {
            code: error.code,
            matched: error.matched.map(|dn| dn.to_string()).unwrap_or_default(),
            message: error.message,
            referral: error.referral,
        }
    }
}

/// One entry of a search result, its attributes and values in the order to send them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SearchEntry {
    pub dn: String,
    pub attributes: Vec<(String, Vec<Bytes>)>,
}

/// A control sent with a response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResponseControl {
    pub oid: String,
    pub critical: bool,
    pub value: Option<Bytes>,
}

/// The protocolOp of a response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ResponseOp {
    Bind(Outcome),
    SearchEntry(SearchEntry),
    /// A continuation reference: URIs of another naming context the search would go on in.
    SearchReference(Vec<String>),
    SearchDone(Outcome),
    Modify(Outcome),
    Add(Outcome),
    Delete(Outcome),
    ModifyDn(Outcome),
    Compare(Outcome),
    Extended {
        outcome: Outcome,
        name: Option<String>,
        value: Option<Bytes>,
    },
}

impl ResponseOp {
    /// The LDAPResult of a final response; `None` for a search entry.
    pub fn outcome(&self) -> Option<&Outcome> {
        match self {
            ResponseOp::SearchEntry(_) | ResponseOp::SearchReference(_) => None,
            ResponseOp::Bind(o)
            | ResponseOp::SearchDone(o)
            | ResponseOp::Modify(o)
            | ResponseOp::Add(o)
            | ResponseOp::Delete(o)
            | ResponseOp::ModifyDn(o)
            | ResponseOp::Compare(o) => Some(o),
            ResponseOp::Extended { outcome, .. } => Some(outcome),
        }
    }
}

/// One message the server sends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    pub message_id: u32,
    pub op: ResponseOp,
    pub controls: Vec<ResponseControl>,
}

impl Response {
    /// A response without controls.
    pub fn new(message_id: u32, op: ResponseOp) -> Response {
        Response {
            message_id,
            op,
            controls: Vec::new(),
        }
    }

    /// The unsolicited Notice of Disconnection, sent before closing a connection whose
    /// stream cannot be understood any more.
    pub fn notice_of_disconnection(code: ResultCode, message: impl Into<String>) -> Response {
        Response::new(
            0,
            ResponseOp::Extended {
                outcome: Outcome::new(code, message),
                name: Some(NOTICE_OF_DISCONNECTION_OID.to_string()),
                value: None,
            },
        )
    }
}

fn write_outcome(out: &mut Vec<u8>, outcome: &Outcome) {
    ber::write_integer(out, 0x0a, i64::from(outcome.code.0));
    ber::write_primitive(out, 0x04, outcome.matched.as_bytes());
    ber::write_primitive(out, 0x04, outcome.message.as_bytes());
    if !outcome.referral.is_empty() {
        // referral [3] Referral OPTIONAL: a SEQUENCE OF URI, context tag 3, constructed.
        ber::write_constructed(out, 0xa3, |out| {
            for uri in &outcome.referral {
                ber::write_primitive(out, 0x04, uri.as_bytes());
            }
        });
    }
}

/// Writes a SearchResultEntry, attribute values in the given order.
pub fn write_search_entry(out: &mut Vec<u8>, entry: &SearchEntry) {
    ber::write_constructed(out, 0x64, |out| {
        ber::write_primitive(out, 0x04, entry.dn.as_bytes());
        ber::write_constructed(out, 0x30, |out| {
            for (name, values) in &entry.attributes {
                ber::write_constructed(out, 0x30, |out| {
                    ber::write_primitive(out, 0x04, name.as_bytes());
                    ber::write_constructed(out, 0x31, |out| {
                        for value in values {
                            ber::write_primitive(out, 0x04, value);
                        }
                    });
                });
            }
        });
    });
}

fn write_op(out: &mut Vec<u8>, op: &ResponseOp) {
    let simple = |tag: u8, outcome: &Outcome, out: &mut Vec<u8>| {
        ber::write_constructed(out, tag, |out| write_outcome(out, outcome));
    };
    match op {
        ResponseOp::Bind(o) => simple(0x61, o, out),
        ResponseOp::SearchEntry(entry) => write_search_entry(out, entry),
        ResponseOp::SearchReference(uris) => ber::write_constructed(out, 0x73, |out| {
            for uri in uris {
                ber::write_primitive(out, 0x04, uri.as_bytes());
            }
        }),
        ResponseOp::SearchDone(o) => simple(0x65, o, out),
        ResponseOp::Modify(o) => simple(0x67, o, out),
        ResponseOp::Add(o) => simple(0x69, o, out),
        ResponseOp::Delete(o) => simple(0x6b, o, out),
        ResponseOp::ModifyDn(o) => simple(0x6d, o, out),
        ResponseOp::Compare(o) => simple(0x6f, o, out),
        ResponseOp::Extended {
            outcome,
            name,
            value,
        } => ber::write_constructed(out, 0x78, |out| {
            write_outcome(out, outcome);
            if let Some(name) = name {
                ber::write_primitive(out, 0x8a, name.as_bytes());
            }
            if let Some(value) = value {
                ber::write_primitive(out, 0x8b, value);
            }
        }),
    }
}

/// Appends the encoding of one response message to `out`.
pub fn encode_into(out: &mut Vec<u8>, response: &Response) {
    ber::write_constructed(out, 0x30, |out| {
        ber::write_integer(out, 0x02, i64::from(response.message_id));
        write_op(out, &response.op);
        if !response.controls.is_empty() {
            ber::write_constructed(out, 0xa0, |out| {
                for control in &response.controls {
                    ber::write_constructed(out, 0x30, |out| {
                        ber::write_primitive(out, 0x04, control.oid.as_bytes());
                        if control.critical {
                            ber::write_bool(out, 0x01, true);
                        }
                        if let Some(value) = &control.value {
                            ber::write_primitive(out, 0x04, value);
                        }
                    });
                }
            });
        }
    });
}

/// The encoding of one response message.
pub fn encode(response: &Response) -> Bytes {
    let mut out = Vec::with_capacity(64);
    encode_into(&mut out, response);
    Bytes::from(out)
}

/// What to do with a framed message that rasn could not decode.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Undecodable {
    /// Answer this response and carry on: the message id was readable.
    Answer(Box<Response>),
    /// Send a Notice of Disconnection and close: not even the message id was readable.
    Disconnect(Box<Response>),
}

/// Decodes one framed message (as [`frame_length`] delimited it). A message that does not
/// decode is answered as AD answers it: a sicily NTLM bind with `authMethodNotSupported`,
/// anything else with `protocolError` in the response type of its operation, and a message
/// without a readable id with a Notice of Disconnection.
pub fn decode(message: &[u8], limits: &Limits) -> Result<LdapMessage, Undecodable> {
    let failure = match check_structure(message, limits) {
        Ok(()) => match rasn::ber::decode::<LdapMessage>(message) {
            Ok(decoded) => return Ok(decoded),
            Err(error) => format!("cannot decode the request: {error}"),
        },
        Err(error) => error.to_string(),
    };
    let head = read_head(message);
    let Some(message_id) = head.message_id else {
        return Err(Undecodable::Disconnect(Box::new(Response::notice_of_disconnection(
            ResultCode::PROTOCOL_ERROR,
            format!("00000057: LdapErr: DSID-0C090D8A, comment: Error decoding ldap message, data 0, v4563: {failure}"),
        ))));
    };
    if head.operation_tag == Some(0x60) && matches!(head.bind_authentication_tag, Some(0x89..=0x8b))
    {
        return Err(Undecodable::Answer(Box::new(Response::new(
            message_id,
            ResponseOp::Bind(Outcome::new(
                ResultCode::AUTH_METHOD_NOT_SUPPORTED,
                "00002027: LdapErr: DSID-0C090B2E, comment: sicily (NTLM) bind is not supported by this server, use a simple bind over TLS, data 0, v4563",
            )),
        ))));
    }
    let outcome = Outcome::new(
        ResultCode::PROTOCOL_ERROR,
        format!("00000057: LdapErr: DSID-0C090D8A, comment: Error decoding ldap message, data 0, v4563: {failure}"),
    );
    let op = match head.operation_tag {
        Some(0x60) => ResponseOp::Bind(outcome),
        Some(0x63) => ResponseOp::SearchDone(outcome),
        Some(0x66) => ResponseOp::Modify(outcome),
        Some(0x68) => ResponseOp::Add(outcome),
        Some(0x4a) => ResponseOp::Delete(outcome),
        Some(0x6c) => ResponseOp::ModifyDn(outcome),
        Some(0x6e) => ResponseOp::Compare(outcome),
        // Unbind and abandon have no response; an undecodable one ends the connection.
        Some(0x42) | Some(0x50) => {
            return Err(Undecodable::Disconnect(Box::new(
                Response::notice_of_disconnection(outcome.code, outcome.message),
            )))
        }
        _ => ResponseOp::Extended {
            outcome,
            name: None,
            value: None,
        },
    };
    Err(Undecodable::Answer(Box::new(Response::new(message_id, op))))
}

#[cfg(test)]
mod tests;
