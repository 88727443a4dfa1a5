//! TLS: a certificate from a CA we were not told to trust is refused (and not retried); the CA
//! file or an extra root makes it trusted; the insecure switch accepts anything.

use devwb_graph::{ErrorKind, GraphClient, GraphConfig};
use rustls::pki_types::CertificateDer;

use crate::support::{devices, make_pki, page, Canned, Fake};

const TARGET: &str = "/v1.0/devices?$select=id&$top=999";

fn serve_one_page(fake: &Fake) {
    fake.route(
        TARGET,
        [Canned::json(200, page(devices("a", 1), None, None))],
    );
}

fn first_page(config: GraphConfig) -> devwb_graph::Result<devwb_graph::Page> {
    let client = GraphClient::new(config)?;
    let result = client.list_devices(&["id"], false)?.next().unwrap();
    result
}

/// The fake's configuration with `ca_file` replaced.
fn trusting(fake: &Fake, ca_file: Option<&std::path::Path>) -> GraphConfig {
    let mut config = fake.config();
    config.ca_file = ca_file.map(|p| p.to_path_buf());
    config
}

#[test]
fn a_certificate_from_another_ca_is_refused_without_retries() {
    let fake = Fake::start();
    serve_one_page(&fake);
    let dir = tempfile::tempdir().unwrap();
    let other_ca = dir.path().join("other-ca.pem");
    std::fs::write(&other_ca, make_pki("some other CA").ca_pem).unwrap();
    let error = first_page(trusting(&fake, Some(&other_ca))).unwrap_err();
    match error.kind() {
        ErrorKind::Certificate { url, detail } => {
            assert!(url.contains("/oauth2/v2.0/token"), "{url}");
            assert!(detail.to_lowercase().contains("certificate"), "{detail}");
        }
        other => panic!("not a certificate error: {other:?}"),
    }
    assert!(
        fake.requests().is_empty(),
        "nothing was sent over the refused connection"
    );
}

#[test]
fn the_platform_store_does_not_trust_a_lab_ca() {
    let fake = Fake::start();
    serve_one_page(&fake);
    match first_page(trusting(&fake, None)) {
        Err(error) => match error.kind() {
            // The machine has a trust store: our lab CA is not in it.
            ErrorKind::Certificate { .. } => {}
            // The machine has none at all: said plainly when the client is built.
            ErrorKind::Tls { what } => assert!(what.contains("platform trust store"), "{what}"),
            other => panic!("unexpected error: {other:?}"),
        },
        Ok(page) => panic!("an untrusted certificate was accepted: {page:?}"),
    }
    assert!(fake.requests().is_empty());
}

#[test]
fn the_ca_file_makes_the_fake_trusted() {
    let fake = Fake::start();
    serve_one_page(&fake);
    assert_eq!(
        first_page(trusting(&fake, Some(fake.ca_file())))
            .unwrap()
            .items,
        1
    );
}

#[test]
fn an_extra_root_makes_the_fake_trusted() {
    let fake = Fake::start();
    serve_one_page(&fake);
    let der: CertificateDer<'static> = rustls_pemfile::certs(&mut fake.ca_pem().as_bytes())
        .next()
        .unwrap()
        .unwrap();
    let config = trusting(&fake, None).with_extra_root(der);
    assert_eq!(first_page(config).unwrap().items, 1);
}

#[test]
fn insecure_skip_verify_accepts_an_untrusted_certificate() {
    let fake = Fake::start();
    serve_one_page(&fake);
    let config = trusting(&fake, None).with_insecure_skip_verify(true);
    assert_eq!(first_page(config).unwrap().items, 1);
}

#[test]
fn a_ca_file_that_is_missing_or_empty_is_a_tls_error_naming_it() {
    let fake = Fake::start();
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.pem");
    std::fs::write(&empty, "no certificates here\n").unwrap();
    for (path, expected) in [
        (dir.path().join("missing.pem"), "cannot read CA file"),
        (empty.clone(), "holds no PEM certificate"),
    ] {
        let error = GraphClient::new(trusting(&fake, Some(&path))).unwrap_err();
        let text = error.to_string();
        assert!(
            text.contains(expected) && text.contains(&path.display().to_string()),
            "{text}"
        );
    }
}
