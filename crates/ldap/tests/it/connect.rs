use devwb_ldap::{Client, ConnectOptions, Credentials, ErrorKind, Password, Tls};

use crate::support::lab;

#[test]
fn ldaps_with_the_ca_file_binds_by_dn_upn_and_down_level_name() {
    let lab = lab();
    let root = lab.client.root_dse().unwrap();
    assert_eq!(root.default_nc.to_string(), "DC=contoso,DC=lab");
    let password = Password::new(lab.sim.admin_password());
    for name in [
        lab.sim.admin_dn(),
        "Administrator@contoso.lab".to_string(),
        format!("{}\\Administrator", lab.sim.netbios_name()),
    ] {
        let credentials = Credentials::new(name.clone(), password.clone());
        let client = Client::connect(&lab.options(), Some(&credentials));
        assert!(client.is_ok(), "bind as {name}: {:?}", client.err());
    }
}

#[test]
fn a_wrong_password_is_invalid_credentials_and_never_printed() {
    let lab = lab();
    let credentials = Credentials::new(lab.sim.admin_dn(), Password::new("Wrong-Secret-42"));
    let error = Client::connect(&lab.options(), Some(&credentials)).unwrap_err();
    assert_eq!(error.result_code(), Some(49), "{error}");
    let text = format!("{error} {error:?}");
    assert!(!text.contains("Wrong-Secret-42"), "{text}");
    assert!(text.contains("invalidCredentials"), "{text}");
}

#[test]
fn an_unknown_certificate_is_refused_unless_verification_is_skipped() {
    let lab = lab();
    // The platform trust store does not know the simulator's self-signed certificate.
    let untrusted = ConnectOptions::new(&lab.sim.ldaps_url()).unwrap();
    match Client::connect(&untrusted, None) {
        Err(error) if matches!(error.kind(), ErrorKind::Connect { .. }) => {
            assert!(
                !error.is_retryable(),
                "a certificate failure is not retried: {error}"
            );
        }
        Err(error) => assert!(
            matches!(
                error.kind(),
                ErrorKind::Connect { .. } | ErrorKind::Tls { .. }
            ),
            "unexpected error kind: {error}"
        ),
        Ok(_) => panic!("connected to a self-signed server without its CA"),
    }
    let skipping = untrusted.with_insecure_skip_verify(true);
    let client = Client::connect(&skipping, Some(&lab.admin_credentials()))
        .expect("insecure_skip_verify connects");
    client.root_dse().unwrap();
}

#[test]
fn starttls_upgrades_a_plain_connection() {
    let lab = lab();
    let options = ConnectOptions::new(&lab.sim.url())
        .unwrap()
        .with_ca_pem(lab.sim.certificate_pem().as_bytes())
        .unwrap();
    assert_eq!(options.tls, Tls::StartTls);
    let client =
        Client::connect(&options, Some(&lab.admin_credentials())).expect("StartTLS and bind");
    client.root_dse().unwrap();
}

#[test]
fn a_simple_bind_without_tls_is_refused_by_the_server() {
    let lab = lab();
    let options = ConnectOptions::new(&lab.sim.url())
        .unwrap()
        .with_tls(Tls::PlainInsecure);
    let error = Client::connect(&options, Some(&lab.admin_credentials())).unwrap_err();
    assert_eq!(
        error.result_code(),
        Some(8),
        "strongerAuthRequired expected: {error}"
    );
}
