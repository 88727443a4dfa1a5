//! The fake tenant's transport: HTTPS (HTTP/1.1 by hyper over tokio-rustls, the simulator's
//! certificate) in front of [`super::routes::Tenant::handle`]. It reads a request (bodies up to
//! [`MAX_BODY_BYTES`]), sleeps when a fault adds latency, sends the answer or closes the connection
//! when a fault drops it, and stops accepting and closes idle connections on shutdown.
//!
//! HTTP/2 is not offered (Graph speaks it; clients fall back to HTTP/1.1 through ALPN).

use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full, Limited};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

use super::routes::{HttpRequest, Reply, Tenant};

/// The largest request body read (an admin device is a few kilobytes).
pub const MAX_BODY_BYTES: usize = 1 << 20;

/// The error that makes hyper close a connection without answering (a dropped-connection fault).
#[derive(Debug)]
struct DropConnection;

impl std::fmt::Display for DropConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped by an injected fault")
    }
}

impl std::error::Error for DropConnection {}

/// Accepts connections until `shutdown` turns true.
pub(crate) async fn serve(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    tenant: Arc<Tenant>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                match accepted {
                    Ok((tcp, _)) => {
                        let _ = tcp.set_nodelay(true);
                        tokio::spawn(connection(tcp, acceptor.clone(), tenant.clone(), shutdown.clone()));
                    }
                    Err(error) => tracing::debug!(%error, "entra accept failed"),
                }
            }
            () = stopped(&mut shutdown) => break,
        }
    }
}

/// Resolves when shutdown is asked for (the watch's guard is not held across an await).
async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}

async fn connection(
    tcp: tokio::net::TcpStream,
    acceptor: TlsAcceptor,
    tenant: Arc<Tenant>,
    mut shutdown: watch::Receiver<bool>,
) {
    let tls = match acceptor.accept(tcp).await {
        Ok(tls) => tls,
        Err(error) => {
            tracing::debug!(%error, "entra TLS handshake failed");
            return;
        }
    };
    let service = hyper::service::service_fn(move |request| answer(tenant.clone(), request));
    let connection =
        hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(tls), service);
    tokio::pin!(connection);
    tokio::select! {
        result = connection.as_mut() => {
            if let Err(error) = result {
                tracing::debug!(%error, "entra connection ended");
            }
        }
        () = stopped(&mut shutdown) => {
            connection.as_mut().graceful_shutdown();
            let _ = connection.await;
        }
    }
}

async fn answer(
    tenant: Arc<Tenant>,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, DropConnection> {
    let (parts, body) = request.into_parts();
    let body = match Limited::new(body, MAX_BODY_BYTES).collect().await {
        Ok(collected) => collected.to_bytes().to_vec(),
        Err(_) => {
            let body = format!(
                "{{\"error\":{{\"code\":\"RequestEntityTooLarge\",\"message\":\"The request body is larger than {MAX_BODY_BYTES} bytes or could not be read.\"}}}}"
            );
            return Ok(response(
                413,
                &[("content-type".into(), "application/json".into())],
                body.into_bytes(),
            ));
        }
    };
    let request = HttpRequest {
        method: parts.method.as_str().to_string(),
        path: parts.uri.path().to_string(),
        query: parts.uri.query().unwrap_or("").to_string(),
        headers: parts
            .headers
            .iter()
            .filter_map(|(name, value)| {
                Some((
                    name.as_str().to_ascii_lowercase(),
                    value.to_str().ok()?.to_string(),
                ))
            })
            .collect(),
        body,
    };
    // Pages of up to 999 devices take milliseconds to render: off the async workers.
    let reply = tokio::task::spawn_blocking(move || tenant.handle(&request))
        .await
        .unwrap_or(Reply::Drop);
    match reply {
        Reply::Drop => Err(DropConnection),
        Reply::Respond { delay, response: r } => {
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            Ok(response(r.status, &r.headers, r.body))
        }
    }
}

fn response(status: u16, headers: &[(String, String)], body: Vec<u8>) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() =
        hyper::StatusCode::from_u16(status).unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
    for (name, value) in headers {
        if let (Ok(name), Ok(value)) = (
            hyper::header::HeaderName::from_bytes(name.as_bytes()),
            hyper::header::HeaderValue::from_str(value),
        ) {
            response.headers_mut().append(name, value);
        }
    }
    response
}
