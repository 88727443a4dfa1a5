//! The client assertion of a certificate credential: a JWT signed RS256 with the app's private
//! key, whose header names the certificate by its thumbprints (`x5t`: base64url of the SHA-1 of
//! the certificate's DER; `x5t#S256`: the same with SHA-256), and whose claims say who it is
//! for (`aud`: the token endpoint), from whom (`iss` = `sub` = the client id), once (`jti`
//! random) and for how long (`nbf` now, `exp` ten minutes on).
//!
//! It builds and signs; it does not send (that is `client`) and does not read files (that is
//! `config`). The time and the `jti` are parameters, so tests check exact claims.

use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use sha1::Digest as _;

/// How long an assertion is valid: long enough for clock skew and a slow network, short enough
/// that a leaked one is soon useless.
pub const ASSERTION_LIFETIME_SECS: u64 = 600;

/// The claims of a client assertion, as Microsoft's identity platform documents them.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AssertionClaims {
    /// The token endpoint the assertion is for.
    pub aud: String,
    /// The client id.
    pub iss: String,
    /// The client id again.
    pub sub: String,
    /// A random id, so the identity platform can refuse a replay.
    pub jti: String,
    /// Not before (seconds since the epoch).
    pub nbf: u64,
    /// Issued at.
    pub iat: u64,
    /// Expiry.
    pub exp: u64,
}

/// A certificate credential made ready to sign: the parsed key and the certificate's thumbprints.
#[derive(Clone)]
pub(crate) struct AssertionSigner {
    key: EncodingKey,
    x5t: String,
    x5t_s256: String,
}

impl fmt::Debug for AssertionSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AssertionSigner")
            .field("key", &"********")
            .field("x5t", &self.x5t)
            .finish()
    }
}

impl AssertionSigner {
    /// The signer of a certificate: its RSA key and certificate as PEM. The error says what is
    /// wrong with which PEM, never what is in it.
    pub(crate) fn from_pems(key_pem: &str, cert_pem: &str) -> Result<AssertionSigner, String> {
        let mut reader = std::io::BufReader::new(cert_pem.as_bytes());
        let certificate = match rustls_pemfile::certs(&mut reader).next() {
            Some(Ok(certificate)) => certificate,
            Some(Err(e)) => return Err(format!("the certificate PEM does not parse: {e}")),
            None => return Err("the certificate PEM holds no CERTIFICATE block".to_string()),
        };
        let key = rsa_key(key_pem)?;
        let der = certificate.as_ref();
        let signer = AssertionSigner {
            key,
            x5t: URL_SAFE_NO_PAD.encode(sha1::Sha1::digest(der)),
            x5t_s256: URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(der)),
        };
        // A trial signature: some keys parse and still cannot sign (too short, not RSA after
        // all), and that is better said when the credential is loaded than at the first token.
        signer.sign("probe", "probe", 0, "probe").map_err(|_| {
            "the private key cannot sign RS256 (is it an RSA key of 2048 bits or more?)".to_string()
        })?;
        Ok(signer)
    }

    /// The certificate's SHA-1 thumbprint, base64url (what Entra shows as the certificate's
    /// thumbprint, in hex).
    #[cfg(test)]
    pub(crate) fn x5t(&self) -> &str {
        &self.x5t
    }

    /// A signed assertion for `audience` (the token endpoint), valid from `now` (seconds since
    /// the epoch) for [`ASSERTION_LIFETIME_SECS`].
    pub(crate) fn sign(
        &self,
        client_id: &str,
        audience: &str,
        now: u64,
        jti: &str,
    ) -> Result<String, String> {
        let mut header = Header::new(Algorithm::RS256);
        header.x5t = Some(self.x5t.clone());
        header.x5t_s256 = Some(self.x5t_s256.clone());
        let claims = AssertionClaims {
            aud: audience.to_string(),
            iss: client_id.to_string(),
            sub: client_id.to_string(),
            jti: jti.to_string(),
            nbf: now,
            iat: now,
            exp: now + ASSERTION_LIFETIME_SECS,
        };
        jsonwebtoken::encode(&header, &claims, &self.key)
            .map_err(|e| format!("signing the client assertion: {e}"))
    }
}

/// The RSA key of a PEM text that may also hold certificates (a combined `.pem`): the first
/// private key block, whatever comes before it.
fn rsa_key(pem: &str) -> Result<EncodingKey, String> {
    use rustls::pki_types::PrivateKeyDer;
    let mut reader = std::io::BufReader::new(pem.as_bytes());
    let key = match rustls_pemfile::private_key(&mut reader) {
        Ok(Some(key)) => key,
        Ok(None) => return Err("the key PEM holds no PRIVATE KEY block".to_string()),
        Err(e) => return Err(format!("the key PEM does not parse: {e}")),
    };
    let label = match &key {
        PrivateKeyDer::Pkcs8(_) => "PRIVATE KEY",
        PrivateKeyDer::Pkcs1(_) => "RSA PRIVATE KEY",
        _ => {
            return Err(
                "the private key is not RSA: the client assertion is signed RS256, which needs an RSA key"
                    .to_string(),
            )
        }
    };
    // jsonwebtoken reads RSA keys from PEM (it unwraps PKCS#8 itself); hand it only this block.
    let body = base64::engine::general_purpose::STANDARD.encode(key.secret_der());
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(64)
        .map(|chunk| std::str::from_utf8(chunk).unwrap_or(""))
        .collect();
    let block = format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    );
    EncodingKey::from_rsa_pem(block.as_bytes())
        .map_err(|e| format!("the private key is not a usable RSA key: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Credential, SecretString};

    /// A throwaway 2048-bit RSA key for tests only (ring, which rcgen uses here, cannot generate
    /// RSA keys; the certificate is made from it at test time).
    const TEST_KEY: &str = include_str!("../tests/it/data/test-rsa-key.pem");

    fn credential() -> (Credential, Vec<u8>) {
        let key = rcgen::KeyPair::from_pem(TEST_KEY).unwrap();
        let params = rcgen::CertificateParams::new(vec!["devwb-test-app".to_string()]).unwrap();
        let certificate = params.self_signed(&key).unwrap();
        (
            Credential::Certificate {
                key_pem: SecretString::new(TEST_KEY),
                cert_pem: certificate.pem(),
            },
            certificate.der().to_vec(),
        )
    }

    #[test]
    fn the_assertion_has_the_thumbprints_and_claims_microsoft_documents() {
        let (credential, der) = credential();
        let signer = credential.signer().unwrap().unwrap();
        let audience = "https://login.example/t1/oauth2/v2.0/token";
        let jwt = signer
            .sign("app-id", audience, 1_700_000_000, "jti-1")
            .unwrap();

        let header = jsonwebtoken::decode_header(&jwt).unwrap();
        assert_eq!(header.alg, Algorithm::RS256);
        assert_eq!(
            header.x5t.as_deref(),
            Some(URL_SAFE_NO_PAD.encode(sha1::Sha1::digest(&der)).as_str())
        );
        assert_eq!(
            header.x5t_s256.as_deref(),
            Some(URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(&der)).as_str())
        );
        assert_eq!(signer.x5t(), header.x5t.as_deref().unwrap());

        // The raw header says `x5t#S256`, the name the identity platform reads.
        let raw_header = URL_SAFE_NO_PAD
            .decode(jwt.split('.').next().unwrap())
            .unwrap();
        let raw_header: serde_json::Value = serde_json::from_slice(&raw_header).unwrap();
        assert!(raw_header.get("x5t#S256").is_some(), "{raw_header}");

        let public = rcgen::KeyPair::from_pem(TEST_KEY).unwrap();
        let decoding = jsonwebtoken::DecodingKey::from_rsa_der(public.public_key_raw());
        let mut validation = jsonwebtoken::Validation::new(Algorithm::RS256);
        validation.set_audience(&[audience]);
        validation.validate_exp = false;
        let claims = jsonwebtoken::decode::<AssertionClaims>(&jwt, &decoding, &validation)
            .unwrap()
            .claims;
        assert_eq!(
            claims,
            AssertionClaims {
                aud: audience.into(),
                iss: "app-id".into(),
                sub: "app-id".into(),
                jti: "jti-1".into(),
                nbf: 1_700_000_000,
                iat: 1_700_000_000,
                exp: 1_700_000_600,
            }
        );
    }

    #[test]
    fn bad_pems_say_which_and_never_echo_the_key() {
        let (good, _) = credential();
        let Credential::Certificate { cert_pem, .. } = good else {
            unreachable!()
        };
        let bad_key = Credential::Certificate {
            key_pem: SecretString::new(
                "-----BEGIN PRIVATE KEY-----\nnot-base64-SECRETBITS\n-----END PRIVATE KEY-----\n",
            ),
            cert_pem: cert_pem.clone(),
        };
        let error = bad_key.signer().unwrap_err();
        assert!(error.contains("key PEM"), "{error}");
        assert!(!error.contains("SECRETBITS"), "{error}");

        let no_cert = Credential::Certificate {
            key_pem: SecretString::new(TEST_KEY),
            cert_pem: "nothing here".into(),
        };
        let error = no_cert.signer().unwrap_err();
        assert!(error.contains("no CERTIFICATE"), "{error}");

        let ec_key = Credential::Certificate {
            key_pem: SecretString::new(rcgen::KeyPair::generate().unwrap().serialize_pem()),
            cert_pem: cert_pem.clone(),
        };
        let error = ec_key.signer().unwrap_err();
        assert!(error.contains("not a usable RSA key"), "{error}");

        // A combined file, certificate first, key after: the key is found.
        let combined = format!("{cert_pem}{TEST_KEY}");
        let combined = Credential::Certificate {
            key_pem: SecretString::new(combined.clone()),
            cert_pem: combined,
        };
        assert!(combined.signer().unwrap().is_some());

        let signer = credential().0.signer().unwrap().unwrap();
        assert!(!format!("{signer:?}").contains("PRIVATE"));
    }
}
