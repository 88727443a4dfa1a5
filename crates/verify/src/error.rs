//! The one error type of devwb-verify: verify could not run (as opposed to a check failing,
//! which is a [`crate::Status::Fail`] in the report).

/// Why verify could not read the forest.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A directory read failed (connection, rootDSE, crossRefs: the basics every check needs).
    #[error("cannot read {what}")]
    Directory {
        /// What was being read.
        what: String,
        /// The client's error, with the server's code and text.
        #[source]
        source: devwb_ldap::Error,
    },
}

/// The error of [`crate::collect()`].
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

    pub(crate) fn directory(what: impl Into<String>, source: devwb_ldap::Error) -> Error {
        Error {
            kind: Box::new(ErrorKind::Directory {
                what: what.into(),
                source,
            }),
        }
    }

    /// The client error underneath, for callers that map connection and authentication
    /// failures to their own exit codes.
    pub fn ldap_error(&self) -> Option<&devwb_ldap::Error> {
        match &*self.kind {
            ErrorKind::Directory { source, .. } => Some(source),
        }
    }
}
