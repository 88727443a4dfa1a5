//! Integration tests of the Graph client against a fake identity platform and Graph served over
//! HTTPS on 127.0.0.1 (see `support`): real TLS, real HTTP, canned pages.

// Set-up helpers outside #[test] functions panic on failure by design: a broken set-up is a failed test.
#![allow(clippy::unwrap_used)]

// Tokens: by secret and by certificate (assertion checked by the fake), caching, refresh.
mod token;
// Paging: pages handed out byte for byte, nextLink followed verbatim, links to other hosts refused.
mod paging;
// Delta rounds: first round, later round with @removed, expired tokens.
mod delta;
// Throttling and faults: Retry-After, backoff, dropped connections, retries exhausted, deadline.
mod throttling;
// TLS: untrusted certificates refused, a CA file or extra root trusted, the insecure switch.
mod tls;
// Secrets never in Debug output, errors or logs.
mod secrets;
// The fake tenant.
mod support;
