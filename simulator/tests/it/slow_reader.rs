//! A client that reads slowly over LDAPS, through a small receive buffer, gets every response.
//!
//! This covers the server's TLS writes under back-pressure. It was written for the missing
//! flush after each write (see `send` in the transport): a TLS stream may accept the plaintext of
//! a response while its ciphertext waits in rustls' buffer, and nothing sent it until the next
//! write. This test did not make that stall happen on demand (it passes without the flush too);
//! the stall was seen in the writeback tests under load, in a paged search on a new connection.

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, Socket, Type};

use crate::support;

/// BER: a tag, a definite length, the content.
fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .iter()
            .copied()
            .skip_while(|&b| b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(content);
    out
}

fn message(id: u8, op: Vec<u8>) -> Vec<u8> {
    tlv(0x30, &[tlv(0x02, &[id]), op].concat())
}

fn bind(id: u8, dn: &str, password: &str) -> Vec<u8> {
    let op = [
        tlv(0x02, &[3]),
        tlv(0x04, dn.as_bytes()),
        tlv(0x80, password.as_bytes()),
    ]
    .concat();
    message(id, tlv(0x60, &op))
}

/// A subtree search for every entry with all its attributes.
fn search_all(id: u8, base: &str) -> Vec<u8> {
    let op = [
        tlv(0x04, base.as_bytes()),
        tlv(0x0a, &[2]),
        tlv(0x0a, &[0]),
        tlv(0x02, &[0]),
        tlv(0x02, &[0]),
        tlv(0x01, &[0]),
        tlv(0x87, b"objectClass"),
        tlv(0x30, &[]),
    ]
    .concat();
    message(id, tlv(0x63, &op))
}

/// The length of the first complete BER element of `buffer`, if it is all there.
fn element_length(buffer: &[u8]) -> Option<usize> {
    let first = *buffer.get(1)?;
    let (header, len) = if first < 0x80 {
        (2, usize::from(first))
    } else {
        let n = usize::from(first & 0x7f);
        let bytes = buffer.get(2..2 + n)?;
        (
            2 + n,
            bytes.iter().fold(0usize, |l, &b| (l << 8) | usize::from(b)),
        )
    };
    (buffer.len() >= header + len).then_some(header + len)
}

/// The protocol op's tag of one LDAPMessage (after the message id).
fn op_tag(message: &[u8]) -> u8 {
    let header = if message[1] < 0x80 {
        2
    } else {
        2 + usize::from(message[1] & 0x7f)
    };
    let id_len = usize::from(message[header + 1]);
    message[header + 2 + id_len]
}

#[test]
fn a_slow_reader_gets_the_whole_of_a_large_search() {
    let sim = support::start();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_pemfile::certs(&mut sim.certificate_pem().as_bytes()) {
        roots.add(cert.unwrap()).unwrap();
    }
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let address: SocketAddr = sim.ldaps_addr().expect("an LDAPS listener");
    // A small receive buffer fills at once, so the server's writes keep meeting a full socket.
    let socket = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP)).unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    socket.connect(&address.into()).unwrap();
    let tcp: std::net::TcpStream = socket.into();
    tcp.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let connection = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
    let mut tls = rustls::StreamOwned::new(connection, tcp);

    tls.write_all(&bind(1, &sim.admin_dn(), sim.admin_password()))
        .unwrap();
    tls.write_all(&search_all(2, &sim.schema_dn())).unwrap();
    tls.flush().unwrap();

    // Not reading at first fills the socket in both directions' buffers.
    std::thread::sleep(Duration::from_millis(500));
    let started = Instant::now();
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 2048];
    let (mut entries, mut received, mut done) = (0usize, 0usize, false);
    while !done {
        match tls.read(&mut chunk) {
            Ok(0) => panic!("the server closed the connection after {entries} entries"),
            Ok(n) => {
                received += n;
                buffer.extend_from_slice(&chunk[..n]);
            }
            Err(error) => panic!(
                "no more bytes after {entries} entries and {:?} ({error}): the rest of the \
                 search is stuck on the server",
                started.elapsed()
            ),
        }
        while let Some(len) = element_length(&buffer) {
            let message: Vec<u8> = buffer.drain(..len).collect();
            match op_tag(&message) {
                0x61 => {} // the bind's response
                0x64 => entries += 1,
                0x65 => done = true,
                other => panic!("unexpected protocol op tag {other:#x}"),
            }
        }
        // Read slowly, so that the server keeps finding the socket full.
        std::thread::sleep(Duration::from_millis(1));
    }
    // AD's MaxPageSize stops an unpaged search at 1,000 entries (sizeLimitExceeded): about a
    // megabyte of schema entries, hundreds of times the receive buffer.
    assert_eq!(entries, 1000);
    assert!(
        received > 256 * 1024,
        "only {received} bytes: too few to fill the socket"
    );
}
