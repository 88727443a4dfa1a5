//! Reads of the directory outside the bulk apply, with its retry policy.

use devwb_ldap::Client;

use crate::error::WritebackError;

/// Runs reads with retries: busy and unavailable answers are retried with backoff, and a lost
/// connection is reopened first (a bulk apply may have seen the client's own connection drop,
/// and a read in the middle of a run should not end it).
pub(crate) struct Retrying<'c> {
    client: &'c Client,
    reconnected: Option<Client>,
    retry: devwb_ldap::RetryPolicy,
}

impl<'c> Retrying<'c> {
    pub(crate) fn new(client: &'c Client, retry: devwb_ldap::RetryPolicy) -> Retrying<'c> {
        Retrying {
            client,
            reconnected: None,
            retry,
        }
    }

    pub(crate) fn call<T>(
        &mut self,
        what: &str,
        mut operation: impl FnMut(&Client) -> Result<T, devwb_ldap::Error>,
    ) -> Result<T, WritebackError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let client = self.reconnected.as_ref().unwrap_or(self.client);
            match operation(client) {
                Ok(value) => return Ok(value),
                Err(error) if error.is_retryable() && attempt < self.retry.max_attempts => {
                    tracing::debug!(what, attempt, %error, "read failed, retrying");
                    std::thread::sleep(self.retry.backoff(attempt));
                    if error.is_connection_lost() {
                        match self.client.reconnect() {
                            Ok(fresh) => self.reconnected = Some(fresh),
                            Err(error) => tracing::debug!(%error, "reconnect failed"),
                        }
                    }
                }
                Err(error) => return Err(error.into()),
            }
        }
    }
}
