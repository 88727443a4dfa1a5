//! The one error type of the Graph client.
//!
//! Every failure names what a caller needs to act on it: the URL asked for, the last HTTP status,
//! and Graph's own error code and message from the error body. Secrets never appear here: no
//! variant holds a client secret, a private key or an access token, and text that comes back from
//! the token endpoint is scrubbed of the secret before it is kept (see `client`).
//!
//! This module only classifies; what is retried and for how long is decided in `client` from the
//! [`crate::RetryPolicy`].

use std::time::Duration;

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The configuration cannot work (a URL that is not HTTPS, a tenant with a slash, an empty
    /// `$select` name...).
    #[error("invalid configuration: {what}")]
    Config {
        /// What is wrong and where.
        what: String,
    },
    /// A credential could not be loaded or used (unreadable file, a key that is not RSA PEM, a
    /// certificate file with no certificate). Names the file, never its content.
    #[error("credential: {what}")]
    Credential {
        /// What went wrong, naming the file when there is one.
        what: String,
    },
    /// Building the TLS configuration failed (CA file unreadable, no certificate in it...).
    #[error("tls setup: {what}")]
    Tls {
        /// What went wrong, naming the file when there is one.
        what: String,
    },
    /// The identity platform refused to issue a token (`invalid_client`, `unauthorized_client`,
    /// an unknown tenant...).
    #[error(
        "token request to {url} refused: HTTP {status}{}",
        code_and_message(code, message)
    )]
    TokenRefused {
        /// The token endpoint.
        url: String,
        /// The HTTP status.
        status: u16,
        /// The OAuth `error` (for example `invalid_client`).
        code: String,
        /// The `error_description` (AADSTS codes included), scrubbed of any secret.
        message: String,
    },
    /// Graph answered with an error status that is not retried, or still failed after the retries.
    #[error(
        "GET {url} failed after {attempts} attempt(s): HTTP {status}{}",
        code_and_message(code, message)
    )]
    Http {
        /// The URL (a page's link verbatim; no access token is ever part of a URL).
        url: String,
        /// The last HTTP status.
        status: u16,
        /// Graph's `error.code` (for example `Authorization_RequestDenied`), empty when the body had none.
        code: String,
        /// Graph's `error.message`, empty when the body had none.
        message: String,
        /// Requests made for this URL.
        attempts: u32,
    },
    /// The delta link is no longer usable: Graph answered 410 Gone, or an error whose code says
    /// the sync state is gone (`syncStateNotFound`, `resyncRequired`...). The caller must start
    /// over with a full round (`devices_delta(None, ..)`).
    #[error(
        "delta token expired or unknown at {url}: HTTP {status}{}; a full resync is needed",
        code_and_message(code, message)
    )]
    DeltaTokenExpired {
        /// The URL.
        url: String,
        /// The HTTP status (410, or 400 for directory objects).
        status: u16,
        /// Graph's error code.
        code: String,
        /// Graph's error message.
        message: String,
    },
    /// The connection could not be made or broke, and still did after the retries.
    #[error("GET {url} failed after {attempts} attempt(s): {detail}")]
    Transport {
        /// The URL.
        url: String,
        /// What the HTTP stack reported (the whole chain of causes).
        detail: String,
        /// Requests made for this URL.
        attempts: u32,
    },
    /// The server's certificate was refused (unknown issuer, wrong name, expired). Not retried:
    /// it fails the same way again.
    #[error("TLS handshake with {url} failed: {detail}")]
    Certificate {
        /// The URL.
        url: String,
        /// What rustls reported.
        detail: String,
    },
    /// The total deadline passed (or the next wait would pass it) before the listing finished.
    #[error("gave up on {url} after {elapsed:?} (deadline {deadline:?}): last {last}")]
    DeadlineExceeded {
        /// The URL being fetched when time ran out.
        url: String,
        /// Time spent on the listing so far.
        elapsed: Duration,
        /// The deadline configured.
        deadline: Duration,
        /// The last outcome: `HTTP 429 (TooManyRequests: ...)`, a transport error, or `no answer yet`.
        last: String,
    },
    /// Graph (or the token endpoint) sent something we could not interpret: a body that is not
    /// JSON, a page without `value`, a link to another host.
    #[error("invalid response from {url}: {what}")]
    InvalidResponse {
        /// The URL.
        url: String,
        /// What was wrong.
        what: String,
    },
}

fn code_and_message(code: &str, message: &str) -> String {
    match (code.is_empty(), message.is_empty()) {
        (true, true) => String::new(),
        (false, true) => format!(" ({code})"),
        (true, false) => format!(": {message}"),
        (false, false) => format!(" ({code}: {message})"),
    }
}

/// The error of every fallible call in this crate.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct Error {
    kind: Box<ErrorKind>,
}

impl Error {
    /// What went wrong.
    pub fn kind(&self) -> &ErrorKind {
        &self.kind
    }

    /// Consumes the error into its kind.
    pub fn into_kind(self) -> ErrorKind {
        *self.kind
    }

    /// Whether the caller must drop its delta link and run a full round.
    pub fn is_delta_token_expired(&self) -> bool {
        matches!(&*self.kind, ErrorKind::DeltaTokenExpired { .. })
    }

    /// The last HTTP status Graph or the token endpoint answered with, when there was one.
    pub fn status(&self) -> Option<u16> {
        match &*self.kind {
            ErrorKind::TokenRefused { status, .. }
            | ErrorKind::Http { status, .. }
            | ErrorKind::DeltaTokenExpired { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Graph's error code from the error body (`Authorization_RequestDenied`, `invalid_client`),
    /// when there was one.
    pub fn graph_code(&self) -> Option<&str> {
        match &*self.kind {
            ErrorKind::TokenRefused { code, .. }
            | ErrorKind::Http { code, .. }
            | ErrorKind::DeltaTokenExpired { code, .. }
                if !code.is_empty() =>
            {
                Some(code)
            }
            _ => None,
        }
    }

    pub(crate) fn config(what: impl Into<String>) -> Error {
        ErrorKind::Config { what: what.into() }.into()
    }

    pub(crate) fn credential(what: impl Into<String>) -> Error {
        ErrorKind::Credential { what: what.into() }.into()
    }

    pub(crate) fn tls(what: impl Into<String>) -> Error {
        ErrorKind::Tls { what: what.into() }.into()
    }

    pub(crate) fn invalid_response(url: &str, what: impl Into<String>) -> Error {
        ErrorKind::InvalidResponse {
            url: url.to_string(),
            what: what.into(),
        }
        .into()
    }
}

impl From<ErrorKind> for Error {
    fn from(kind: ErrorKind) -> Error {
        Error {
            kind: Box::new(kind),
        }
    }
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_url_status_and_graph_code() {
        let error = Error::from(ErrorKind::Http {
            url: "https://graph.example/v1.0/devices?$top=999".into(),
            status: 403,
            code: "Authorization_RequestDenied".into(),
            message: "Insufficient privileges to complete the operation.".into(),
            attempts: 1,
        });
        assert_eq!(
            error.to_string(),
            "GET https://graph.example/v1.0/devices?$top=999 failed after 1 attempt(s): HTTP 403 \
             (Authorization_RequestDenied: Insufficient privileges to complete the operation.)"
        );
        assert_eq!(error.status(), Some(403));
        assert_eq!(error.graph_code(), Some("Authorization_RequestDenied"));
        assert!(!error.is_delta_token_expired());
    }

    #[test]
    fn an_empty_code_and_message_leave_the_status_alone() {
        let error = Error::from(ErrorKind::Http {
            url: "u".into(),
            status: 502,
            code: String::new(),
            message: String::new(),
            attempts: 3,
        });
        assert_eq!(
            error.to_string(),
            "GET u failed after 3 attempt(s): HTTP 502"
        );
        assert_eq!(error.graph_code(), None);
    }
}
