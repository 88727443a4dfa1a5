//! Framing: finding where one BER-encoded LDAP message ends in a byte stream, and checking
//! its structure before anything decodes it.
//!
//! rasn-ldap decodes a complete message but does not frame: this module reads the outer
//! `SEQUENCE` tag and its definite length (short form, or long form of at most four octets;
//! RFC 4511 section 5.1 forbids the indefinite form), enforces the maximum message size, and
//! walks the nested TLVs without recursion to enforce the maximum nesting depth, so that a
//! hostile filter a million levels deep is refused before a recursive decoder sees it.
//!
//! It deliberately does not interpret LDAP: the only LDAP knowledge here is the hand-written
//! reading of the message id and operation tag used to answer messages that do not decode.

use std::fmt;

/// The limits a connection enforces on what a client sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// The largest message accepted, header included. AD's default MaxReceiveBuffer is 10 MB;
    /// security descriptors and certificates need far more than the 32 KiB some servers allow.
    pub max_message_bytes: usize,
    /// The deepest nesting of constructed BER elements accepted in one message. A search
    /// filter nested deeper than this is refused.
    pub max_nesting: usize,
    /// The most bytes of unfinished messages the server holds for all connections nobody
    /// has bound on yet, together. Such a connection may only bind, read the rootDSE or
    /// start TLS, all small requests, so a bound well above one message is no hardship to
    /// a real client and keeps a crowd of half-sent 10 MB messages from holding gigabytes.
    /// The connection whose read goes past it gets a Notice of Disconnection.
    pub max_unauthenticated_bytes: usize,
    /// How long the rest of a started message (or a TLS handshake) may take to arrive.
    pub partial_message_timeout: std::time::Duration,
    /// How long a connection nobody has bound on may stay idle (no request, nothing
    /// outstanding) before it is closed; AD's MaxConnIdleTime policy, 900 s by default.
    pub idle_unauthenticated_timeout: std::time::Duration,
}

impl Limits {
    /// 10 MiB, as AD's MaxReceiveBuffer.
    pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 10 * 1024 * 1024;
    /// Deep enough for any real filter (every level of a filter costs one or two levels).
    pub const DEFAULT_MAX_NESTING: usize = 100;
    /// 16 MiB: one largest message and change, for every unbound connection together.
    pub const DEFAULT_MAX_UNAUTHENTICATED_BYTES: usize = 16 * 1024 * 1024;
    /// 30 seconds for the rest of a message.
    pub const DEFAULT_PARTIAL_MESSAGE_TIMEOUT: std::time::Duration =
        std::time::Duration::from_secs(30);
    /// 900 seconds, AD's MaxConnIdleTime.
    pub const DEFAULT_IDLE_UNAUTHENTICATED_TIMEOUT: std::time::Duration =
        std::time::Duration::from_secs(900);
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_message_bytes: Limits::DEFAULT_MAX_MESSAGE_BYTES,
            max_nesting: Limits::DEFAULT_MAX_NESTING,
            max_unauthenticated_bytes: Limits::DEFAULT_MAX_UNAUTHENTICATED_BYTES,
            partial_message_timeout: Limits::DEFAULT_PARTIAL_MESSAGE_TIMEOUT,
            idle_unauthenticated_timeout: Limits::DEFAULT_IDLE_UNAUTHENTICATED_TIMEOUT,
        }
    }
}

/// Why bytes could not be framed as an LDAP message. The connection cannot continue after
/// any of these, because the position of the next message is unknown.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FrameError {
    /// The first octet is not the universal constructed SEQUENCE tag `0x30`.
    NotASequence { tag: u8 },
    /// The length uses the indefinite form (`0x80`), which LDAP forbids.
    IndefiniteLength,
    /// The long form announces more than four length octets.
    LengthTooLong { octets: usize },
    /// The message is larger than [`Limits::max_message_bytes`].
    TooLarge { length: usize, limit: usize },
    /// An element inside the message does not fit in its parent, or its length is malformed.
    Malformed { offset: usize, reason: &'static str },
    /// Constructed elements are nested deeper than [`Limits::max_nesting`].
    TooDeep { limit: usize },
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::NotASequence { tag } => {
                write!(
                    f,
                    "message starts with tag 0x{tag:02x}, not a SEQUENCE (0x30)"
                )
            }
            FrameError::IndefiniteLength => {
                f.write_str("message uses the indefinite length form, which LDAP forbids")
            }
            FrameError::LengthTooLong { octets } => {
                write!(
                    f,
                    "message length has {octets} octets, at most 4 are accepted"
                )
            }
            FrameError::TooLarge { length, limit } => {
                write!(
                    f,
                    "message of {length} bytes exceeds the limit of {limit} bytes"
                )
            }
            FrameError::Malformed { offset, reason } => {
                write!(f, "malformed BER at byte {offset}: {reason}")
            }
            FrameError::TooDeep { limit } => write!(f, "message nests deeper than {limit} levels"),
        }
    }
}

impl std::error::Error for FrameError {}

/// A parsed BER length: the content length and how many octets the length itself took.
fn read_length(input: &[u8]) -> Result<Option<(usize, usize)>, FrameError> {
    let Some(&first) = input.first() else {
        return Ok(None);
    };
    if first < 0x80 {
        return Ok(Some((first as usize, 1)));
    }
    if first == 0x80 {
        return Err(FrameError::IndefiniteLength);
    }
    let octets = (first & 0x7f) as usize;
    if octets > 4 {
        return Err(FrameError::LengthTooLong { octets });
    }
    let Some(bytes) = input.get(1..1 + octets) else {
        return Ok(None);
    };
    let length = bytes.iter().fold(0usize, |acc, &b| (acc << 8) | b as usize);
    Ok(Some((length, 1 + octets)))
}

/// Finds the first complete message in `buffer`: `Ok(Some(n))` when the first `n` bytes are
/// one whole message, `Ok(None)` when more bytes are needed, an error when the stream cannot
/// be an LDAP message stream.
pub fn frame_length(buffer: &[u8], limits: &Limits) -> Result<Option<usize>, FrameError> {
    let Some(&tag) = buffer.first() else {
        return Ok(None);
    };
    if tag != 0x30 {
        return Err(FrameError::NotASequence { tag });
    }
    let rest = buffer.get(1..).unwrap_or_default();
    let Some((content, length_octets)) = read_length(rest)? else {
        return Ok(None);
    };
    let total = 1 + length_octets + content;
    if total > limits.max_message_bytes {
        return Err(FrameError::TooLarge {
            length: total,
            limit: limits.max_message_bytes,
        });
    }
    Ok((buffer.len() >= total).then_some(total))
}

/// Walks every TLV of one framed message, without recursion, and checks that each element
/// fits in its parent, that lengths are definite and that nesting stays within the limit.
pub fn check_structure(message: &[u8], limits: &Limits) -> Result<(), FrameError> {
    // Each stack item is the end offset of an open constructed element.
    let mut open_ends: Vec<usize> = vec![message.len()];
    let mut pos = 0usize;
    while let Some(&end) = open_ends.last() {
        if pos == end {
            open_ends.pop();
            continue;
        }
        if pos > end {
            return Err(FrameError::Malformed {
                offset: pos,
                reason: "element overruns its parent",
            });
        }
        let Some(&tag) = message.get(pos) else {
            return Err(FrameError::Malformed {
                offset: pos,
                reason: "truncated tag",
            });
        };
        if tag & 0x1f == 0x1f {
            return Err(FrameError::Malformed {
                offset: pos,
                reason: "multi-octet tags are not used by LDAP",
            });
        }
        let after_tag = message.get(pos + 1..end).unwrap_or_default();
        let (length, length_octets) = match read_length(after_tag) {
            Ok(Some(parsed)) => parsed,
            Ok(None) => {
                return Err(FrameError::Malformed {
                    offset: pos + 1,
                    reason: "truncated length",
                })
            }
            Err(FrameError::IndefiniteLength) => {
                return Err(FrameError::Malformed {
                    offset: pos + 1,
                    reason: "indefinite length",
                })
            }
            Err(_) => {
                return Err(FrameError::Malformed {
                    offset: pos + 1,
                    reason: "length of more than 4 octets",
                })
            }
        };
        let content_start = pos + 1 + length_octets;
        let content_end = content_start
            .checked_add(length)
            .filter(|&e| e <= end)
            .ok_or(FrameError::Malformed {
                offset: pos,
                reason: "element overruns its parent",
            })?;
        if tag & 0x20 != 0 {
            if open_ends.len() > limits.max_nesting {
                return Err(FrameError::TooDeep {
                    limit: limits.max_nesting,
                });
            }
            open_ends.push(content_end);
            pos = content_start;
        } else {
            pos = content_end;
        }
    }
    Ok(())
}

/// What could be read by hand from a message that rasn could not decode: enough to answer it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MessageHead {
    /// The message id, if the second element is a readable INTEGER.
    pub message_id: Option<u32>,
    /// The protocolOp's tag octet, if present (`0x60` a bind request, `0x63` a search, ...).
    pub operation_tag: Option<u8>,
    /// For a bind request, the tag of its `authentication` choice (`0x80` simple, `0xa3` SASL,
    /// `0x89`..`0x8b` AD's sicily NTLM).
    pub bind_authentication_tag: Option<u8>,
}

/// Reads a TLV at `pos`: returns (tag, content range).
fn tlv_at(message: &[u8], pos: usize) -> Option<(u8, usize, usize)> {
    let tag = *message.get(pos)?;
    let (length, octets) = read_length(message.get(pos + 1..)?).ok()??;
    let start = pos + 1 + octets;
    Some((tag, start, start.checked_add(length)?))
}

/// Reads the message id, the operation tag and, for a bind, the authentication tag of a
/// framed message by hand, tolerating anything after the point of failure.
pub fn read_head(message: &[u8]) -> MessageHead {
    let mut head = MessageHead {
        message_id: None,
        operation_tag: None,
        bind_authentication_tag: None,
    };
    let Some((0x30, seq_start, _)) = tlv_at(message, 0) else {
        return head;
    };
    let Some((0x02, id_start, id_end)) = tlv_at(message, seq_start) else {
        return head;
    };
    if let Some(id_bytes) = message.get(id_start..id_end) {
        if !id_bytes.is_empty()
            && id_bytes.len() <= 5
            && id_bytes.first().is_some_and(|b| b & 0x80 == 0)
        {
            let value = id_bytes.iter().fold(0u64, |acc, &b| (acc << 8) | b as u64);
            head.message_id = u32::try_from(value).ok().filter(|v| *v <= i32::MAX as u32);
        }
    }
    let Some((op_tag, op_start, _)) = tlv_at(message, id_end) else {
        return head;
    };
    head.operation_tag = Some(op_tag);
    if op_tag == 0x60 {
        // BindRequest: version INTEGER, name OCTET STRING, authentication CHOICE.
        let Some((_, _, version_end)) = tlv_at(message, op_start) else {
            return head;
        };
        let Some((_, _, name_end)) = tlv_at(message, version_end) else {
            return head;
        };
        head.bind_authentication_tag = message.get(name_end).copied();
    }
    head
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Limits {
        Limits {
            max_message_bytes: 1000,
            max_nesting: 8,
            ..Limits::default()
        }
    }

    #[test]
    fn frames_short_and_long_lengths() {
        assert_eq!(frame_length(&[], &limits()), Ok(None));
        assert_eq!(frame_length(&[0x30], &limits()), Ok(None));
        assert_eq!(frame_length(&[0x30, 0x03, 1, 2], &limits()), Ok(None));
        assert_eq!(
            frame_length(&[0x30, 0x03, 1, 2, 3, 9], &limits()),
            Ok(Some(5))
        );
        assert_eq!(frame_length(&[0x30, 0x82, 0x00], &limits()), Ok(None));
        assert_eq!(
            frame_length(&[0x30, 0x82, 0x00, 0x01, 7], &limits()),
            Ok(Some(5))
        );
    }

    #[test]
    fn refuses_unframeable_streams() {
        assert_eq!(
            frame_length(b"GET / HTTP/1.1", &limits()),
            Err(FrameError::NotASequence { tag: b'G' })
        );
        assert_eq!(
            frame_length(&[0x30, 0x80], &limits()),
            Err(FrameError::IndefiniteLength)
        );
        assert_eq!(
            frame_length(&[0x30, 0x85, 1, 1, 1, 1, 1], &limits()),
            Err(FrameError::LengthTooLong { octets: 5 })
        );
        assert_eq!(
            frame_length(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff], &limits()),
            Err(FrameError::TooLarge {
                length: 6 + 0xffff_ffff,
                limit: 1000
            })
        );
    }

    #[test]
    fn structure_checks_nesting_and_overruns() {
        // SEQUENCE { INTEGER 1, SEQUENCE { } }
        assert_eq!(
            check_structure(&[0x30, 0x05, 0x02, 0x01, 0x01, 0x30, 0x00], &limits()),
            Ok(())
        );
        // An inner element claims more than its parent holds.
        assert!(matches!(
            check_structure(&[0x30, 0x03, 0x04, 0x05, 0x00], &limits()),
            Err(FrameError::Malformed { offset: 2, .. })
        ));
        // Nested nine deep with a limit of eight.
        let mut deep = vec![0x04, 0x00];
        for _ in 0..9 {
            let mut outer = vec![0xa0, deep.len() as u8];
            outer.extend_from_slice(&deep);
            deep = outer;
        }
        let mut message = vec![0x30, deep.len() as u8];
        message.extend_from_slice(&deep);
        assert_eq!(
            check_structure(&message, &limits()),
            Err(FrameError::TooDeep { limit: 8 })
        );
    }

    #[test]
    fn reads_the_head_of_a_sicily_bind() {
        // SEQUENCE { id 7, [APPLICATION 0] { version 3, name "", [9] "NTLM" } }
        let message = [
            0x30, 0x10, 0x02, 0x01, 0x07, 0x60, 0x0b, 0x02, 0x01, 0x03, 0x04, 0x00, 0x89, 0x04,
            b'N', b'T', b'L', b'M',
        ];
        let head = read_head(&message);
        assert_eq!(head.message_id, Some(7));
        assert_eq!(head.operation_tag, Some(0x60));
        assert_eq!(head.bind_authentication_tag, Some(0x89));
    }
}
