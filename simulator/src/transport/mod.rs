//! The transport: TCP listeners (plain LDAP and LDAPS), StartTLS, and one task per
//! connection that frames, decodes and dispatches requests and writes responses.
//!
//! A connection may carry several outstanding requests. Every operation is evaluated in order
//! on the connection's task, each quick and never holding a lock across an `.await`; a search
//! with more than a few results then streams them from a task of its own through a channel,
//! so an Abandon request read meanwhile stops it between two entries. StartTLS is refused while a search is
//! outstanding. Shutdown is a message (a `watch` channel), not an abort: every connection
//! sends a Notice of Disconnection and closes.

pub mod tls;

use std::collections::HashSet;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use rasn_ldap::ProtocolOp;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;
use tracing::{debug, info_span, warn, Instrument};

use crate::codec::{self, Limits, Outcome, Response, ResponseOp, Undecodable};
use crate::error::ResultCode;
use crate::handler::{response_for, Handler, Session, START_TLS_OID};
use crate::request::FaultDecision;

/// What every connection of a server shares.
pub struct Shared {
    pub handler: Handler,
    pub limits: Limits,
    pub tls: Option<TlsAcceptor>,
    /// Connections currently open, for tests and logs (shared by every listener of the
    /// process: each DC of a multi-domain forest has a `Shared` of its own).
    pub open_connections: Arc<AtomicUsize>,
    /// Bytes of partly received messages held for connections nobody has bound on yet,
    /// bounded by [`Limits::max_unauthenticated_bytes`] (for every listener together).
    pub unauthenticated_bytes: Arc<AtomicUsize>,
    /// Whether this DC's listeners refuse new connections (accept and close at once): a DC
    /// that is down, while the others of the forest serve (`SimHandle::set_dc_refusing`).
    pub refusing: std::sync::atomic::AtomicBool,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("limits", &self.limits)
            .field("tls", &self.tls.is_some())
            .field("open_connections", &self.open_connections)
            .field("unauthenticated_bytes", &self.unauthenticated_bytes)
            .finish_non_exhaustive()
    }
}

/// A stream that is plain TCP until StartTLS, or TLS from the start (LDAPS).
enum Conn {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
    /// Only while StartTLS swaps one for the other.
    Upgrading,
}

impl AsyncRead for Conn {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
            Conn::Upgrading => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::NotConnected,
                "TLS upgrade in progress",
            ))),
        }
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
            Conn::Upgrading => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::NotConnected,
                "TLS upgrade in progress",
            ))),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_flush(cx),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
            Conn::Upgrading => Poll::Ready(Ok(())),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
            Conn::Upgrading => Poll::Ready(Ok(())),
        }
    }
}

/// Accepts connections on `listener` until shutdown. `ldaps` listeners start TLS at once.
pub async fn serve(
    listener: TcpListener,
    ldaps: bool,
    shared: Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            _ = shutdown.changed() => break,
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(pair) => pair,
                    Err(error) => {
                        // Running out of file descriptors and similar: wait a little, keep serving.
                        warn!(%error, "accept failed");
                        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                        continue;
                    }
                };
                if shared.refusing.load(Ordering::Relaxed)
                    || shared.handler.forest().semantics.faults().refuses_connections()
                {
                    debug!(%peer, "fault injection: connection refused");
                    drop(stream);
                    continue;
                }
                let _ = stream.set_nodelay(true);
                let shared = shared.clone();
                let shutdown = shutdown.clone();
                let span = info_span!("conn", %peer, ldaps);
                tokio::spawn(async move {
                    shared.open_connections.fetch_add(1, Ordering::Relaxed);
                    if let Err(error) = connection(stream, ldaps, &shared, shutdown).await {
                        debug!(%error, "connection ended with an error");
                    }
                    shared.open_connections.fetch_sub(1, Ordering::Relaxed);
                }.instrument(span));
            }
        }
    }
}

/// The most responses (entries, references and the final one) of a search answered in line
/// rather than streamed by a task of its own.
const INLINE_SEARCH_RESPONSES: usize = 16;

/// The most bytes one read takes from a socket: a buffer grows with what has arrived, a
/// read at a time, never with the length a message header announces.
const READ_CHUNK: usize = 16 * 1024;

/// A buffer whose capacity grew past this for one large message is given back once empty.
const KEEP_CAPACITY: usize = 64 * 1024;

/// This connection's share of [`Shared::unauthenticated_bytes`]; given back on drop.
struct HeldBytes<'a> {
    total: &'a AtomicUsize,
    mine: usize,
}

impl HeldBytes<'_> {
    /// Counts `now` bytes for this connection; returns the new total of all connections.
    fn set(&mut self, now: usize) -> usize {
        if now >= self.mine {
            let more = now - self.mine;
            self.mine = now;
            self.total.fetch_add(more, Ordering::AcqRel) + more
        } else {
            let less = self.mine - now;
            self.mine = now;
            self.total
                .fetch_sub(less, Ordering::AcqRel)
                .saturating_sub(less)
        }
    }
}

impl Drop for HeldBytes<'_> {
    fn drop(&mut self) {
        self.set(0);
    }
}

/// Sends a Notice of Disconnection with `text` and closes.
async fn disconnect(conn: &mut Conn, code: ResultCode, text: &str) {
    let notice = Response::notice_of_disconnection(code, text);
    send(conn, &codec::encode(&notice)).await.ok();
    conn.shutdown().await.ok();
}

/// The state of one connection shared with its search tasks.
struct Outstanding {
    abandoned: Mutex<HashSet<u32>>,
    searches: AtomicUsize,
}

async fn connection(
    stream: TcpStream,
    ldaps: bool,
    shared: &Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
) -> io::Result<()> {
    let limits = shared.limits;
    let mut conn = if ldaps {
        let acceptor = shared
            .tls
            .clone()
            .ok_or_else(|| io::Error::other("LDAPS listener without TLS configuration"))?;
        // A handshake is a message too: one that never completes does not hold a task forever.
        let accepted =
            tokio::time::timeout(limits.partial_message_timeout, acceptor.accept(stream))
                .await
                .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "TLS handshake timed out"))?;
        Conn::Tls(Box::new(accepted?))
    } else {
        Conn::Plain(stream)
    };
    let mut session = Session::new(ldaps);
    let mut buffer = BytesMut::new();
    let mut chunk = vec![0u8; READ_CHUNK];
    let mut held = HeldBytes {
        total: &shared.unauthenticated_bytes,
        mine: 0,
    };
    // When the message now in the buffer started to arrive, and when the client last sent.
    let mut partial_since: Option<tokio::time::Instant> = None;
    let mut last_received = tokio::time::Instant::now();
    let mut out: Vec<u8> = Vec::with_capacity(16 * 1024);
    let (tx, mut rx) = mpsc::channel::<Bytes>(256);
    let outstanding = Arc::new(Outstanding {
        abandoned: Mutex::new(HashSet::new()),
        searches: AtomicUsize::new(0),
    });
    let mut operations: u64 = 0;
    loop {
        // Handle every complete message already read.
        let mut completed = false;
        loop {
            let length = match codec::frame_length(&buffer, &shared.limits) {
                Ok(Some(length)) => length,
                Ok(None) => break,
                Err(error) => {
                    debug!(%error, "unframeable input");
                    out.extend_from_slice(&codec::encode(&Response::notice_of_disconnection(
                        ResultCode::PROTOCOL_ERROR,
                        error.to_string(),
                    )));
                    send(&mut conn, &out).await?;
                    conn.shutdown().await.ok();
                    return Ok(());
                }
            };
            let frame = buffer.split_to(length).freeze();
            completed = true;
            operations += 1;
            if shared
                .handler
                .forest()
                .semantics
                .faults()
                .drop_connection_before(operations)
            {
                debug!(operations, "fault injection: connection dropped");
                send(&mut conn, &out).await.ok();
                conn.shutdown().await.ok();
                return Ok(());
            }
            match dispatch(&frame, &mut session, shared, &tx, &outstanding, &mut out).await {
                Next::Continue => {}
                Next::Close => {
                    send(&mut conn, &out).await?;
                    conn.shutdown().await.ok();
                    return Ok(());
                }
                Next::StartTls => {
                    send(&mut conn, &out).await?;
                    out.clear();
                    let Some(acceptor) = shared.tls.clone() else {
                        return Ok(());
                    };
                    let Conn::Plain(tcp) = std::mem::replace(&mut conn, Conn::Upgrading) else {
                        return Ok(());
                    };
                    let accepted =
                        tokio::time::timeout(limits.partial_message_timeout, acceptor.accept(tcp))
                            .await
                            .map_err(|_| {
                                io::Error::new(
                                    io::ErrorKind::TimedOut,
                                    "StartTLS handshake timed out",
                                )
                            })?;
                    conn = Conn::Tls(Box::new(accepted?));
                    session.tls = true;
                    buffer.clear();
                }
            }
        }
        if !out.is_empty() {
            send(&mut conn, &out).await?;
            out.clear();
        }
        if buffer.is_empty() && buffer.capacity() > KEEP_CAPACITY {
            // Give a large message's memory back rather than keep it per connection.
            buffer = BytesMut::new();
        }
        // The clock of a partial message starts with its first bytes: a client that keeps
        // completing messages is never timed out, however much it pipelines.
        if buffer.is_empty() || completed {
            partial_since = None;
        }
        if !buffer.is_empty() && partial_since.is_none() {
            partial_since = Some(tokio::time::Instant::now());
        }
        let unbound = session.identity.is_anonymous();
        held.set(if unbound { buffer.len() } else { 0 });
        // The next deadline: the rest of a partial message, or (nobody bound, nothing
        // outstanding) AD's MaxConnIdleTime.
        let idle =
            unbound && buffer.is_empty() && outstanding.searches.load(Ordering::Acquire) == 0;
        let deadline = match partial_since {
            Some(since) => Some((
                since + limits.partial_message_timeout,
                "the rest of a message did not arrive in time",
            )),
            None if idle => Some((
                last_received + limits.idle_unauthenticated_timeout,
                "the connection was idle without a bind for too long",
            )),
            None => None,
        };
        tokio::select! {
            biased;
            _ = shutdown.changed() => {
                disconnect(&mut conn, ResultCode::UNAVAILABLE, "the server is shutting down").await;
                return Ok(());
            }
            _ = async {
                match deadline {
                    Some((at, _)) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            } => {
                let reason = deadline.map_or("timed out", |(_, reason)| reason);
                debug!(reason, "connection timed out");
                disconnect(&mut conn, ResultCode::UNAVAILABLE, reason).await;
                return Ok(());
            }
            Some(first) = rx.recv() => {
                if first.is_empty() {
                    // A search task's fault injection: close in the middle of the results.
                    send(&mut conn, &out).await.ok();
                    conn.shutdown().await.ok();
                    return Ok(());
                }
                out.extend_from_slice(&first);
                while out.len() < 256 * 1024 {
                    match rx.try_recv() {
                        Ok(more) if more.is_empty() => {
                            // The fault-injection close, queued behind these responses.
                            send(&mut conn, &out).await.ok();
                            conn.shutdown().await.ok();
                            return Ok(());
                        }
                        Ok(more) => out.extend_from_slice(&more),
                        Err(_) => break,
                    }
                }
                send(&mut conn, &out).await?;
                out.clear();
            }
            read = conn.read(&mut chunk) => {
                let read = read?;
                if read == 0 {
                    return Ok(());
                }
                last_received = tokio::time::Instant::now();
                buffer.extend_from_slice(chunk.get(..read).unwrap_or_default());
                if session.identity.is_anonymous() {
                    let total = held.set(buffer.len());
                    if total > limits.max_unauthenticated_bytes {
                        debug!(total, "too many bytes held for unbound connections");
                        let text = format!(
                            "connections that have not bound hold {total} bytes of unfinished messages, more than the server's limit of {}",
                            limits.max_unauthenticated_bytes
                        );
                        disconnect(&mut conn, ResultCode::UNAVAILABLE, &text).await;
                        return Ok(());
                    }
                }
            }
        }
    }
}

/// Writes `bytes` and flushes them. A TLS stream may accept the plaintext while its ciphertext
/// is still in rustls' buffer (when the socket would block): without the flush, that response
/// waits for the next write, which may never come, and the client waits for it forever.
async fn send(conn: &mut Conn, bytes: &[u8]) -> io::Result<()> {
    conn.write_all(bytes).await?;
    conn.flush().await
}

enum Next {
    Continue,
    Close,
    StartTls,
}

async fn dispatch(
    frame: &[u8],
    session: &mut Session,
    shared: &Arc<Shared>,
    tx: &mpsc::Sender<Bytes>,
    outstanding: &Arc<Outstanding>,
    out: &mut Vec<u8>,
) -> Next {
    let message = match codec::decode(frame, &shared.limits) {
        Ok(message) => message,
        Err(Undecodable::Answer(response)) => {
            // rasn-ldap cannot represent RFC 4525's increment: such a modify is read by hand.
            let raw = matches!(response.op, ResponseOp::Modify(_))
                .then(|| codec::increment::decode_modify(frame))
                .flatten();
            match raw {
                Some(request) => {
                    codec::encode_into(out, &shared.handler.handle_raw_modify(session, &request))
                }
                None => codec::encode_into(out, &response),
            }
            return Next::Continue;
        }
        Err(Undecodable::Disconnect(notice)) => {
            codec::encode_into(out, &notice);
            return Next::Close;
        }
    };
    let id = message.message_id;
    match &message.protocol_op {
        ProtocolOp::UnbindRequest(_) => return Next::Close,
        ProtocolOp::AbandonRequest(target) => {
            outstanding
                .abandoned
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(target.0);
            return Next::Continue;
        }
        ProtocolOp::ExtendedReq(request)
            if request.request_name.as_ref() == START_TLS_OID.as_bytes() =>
        {
            let refuse = |code: ResultCode, text: &str| {
                Response::new(
                    id,
                    ResponseOp::Extended {
                        outcome: Outcome::new(code, text),
                        name: Some(START_TLS_OID.to_string()),
                        value: None,
                    },
                )
            };
            let response = if session.tls {
                refuse(ResultCode::OPERATIONS_ERROR, "00000000: LdapErr: DSID-0C090F38, comment: TLS is already active on this connection, data 0, v4563")
            } else if shared.tls.is_none() {
                refuse(
                    ResultCode::UNAVAILABLE,
                    "TLS is not configured on this server",
                )
            } else if outstanding.searches.load(Ordering::Acquire) > 0 {
                refuse(ResultCode::OPERATIONS_ERROR, "00002025: LdapErr: DSID-0C090F38, comment: StartTLS is refused while other operations are outstanding, data 0, v4563")
            } else {
                codec::encode_into(out, &refuse(ResultCode::SUCCESS, ""));
                return Next::StartTls;
            };
            codec::encode_into(out, &response);
            return Next::Continue;
        }
        _ => {}
    }
    match shared.handler.fault(session, &message) {
        FaultDecision::Proceed => {}
        FaultDecision::Delay(duration) => tokio::time::sleep(duration).await,
        FaultDecision::Fail(error) => {
            if let Some(op) = response_for(&message.protocol_op, Outcome::from(error)) {
                codec::encode_into(out, &Response::new(id, op));
            }
            return Next::Continue;
        }
        FaultDecision::Drop => return Next::Close,
        #[allow(unreachable_patterns)]
        _ => {}
    }
    if matches!(message.protocol_op, ProtocolOp::SearchRequest(_)) {
        let faults = shared.handler.forest().semantics.faults();
        let responses = shared.handler.handle(session, message);
        // A search with a few results is answered in line, like the other operations: a task
        // and a channel would cost more than the search. Longer ones (and every search while
        // faults are injected, which may drop the connection between two entries) are sent by
        // a task, so that an Abandon read meanwhile stops them between two entries.
        if responses.len() <= INLINE_SEARCH_RESPONSES && !faults.is_active() {
            for response in &responses {
                codec::encode_into(out, response);
            }
            return Next::Continue;
        }
        outstanding.searches.fetch_add(1, Ordering::AcqRel);
        let tx = tx.clone();
        let outstanding = outstanding.clone();
        tokio::spawn(
            async move {
                let mut entries_sent: u64 = 0;
                for response in responses {
                    if faults.drop_mid_search(entries_sent) {
                        debug!(
                            id,
                            entries_sent, "fault injection: connection dropped mid-search"
                        );
                        // An empty message tells the connection loop to close.
                        let _ = tx.send(Bytes::new()).await;
                        break;
                    }
                    if matches!(response.op, ResponseOp::SearchEntry(_)) {
                        entries_sent += 1;
                    }
                    let abandoned = outstanding
                        .abandoned
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .remove(&id);
                    if abandoned {
                        debug!(id, "search abandoned");
                        break;
                    }
                    if tx.send(codec::encode(&response)).await.is_err() {
                        break; // the connection is gone
                    }
                }
                outstanding.searches.fetch_sub(1, Ordering::AcqRel);
            }
            .in_current_span(),
        );
        return Next::Continue;
    }
    let responses = if frame.len() > LARGE_REQUEST_BYTES {
        // A large write (tens of thousands of values) takes a while even in linear time: it
        // runs on a blocking thread, so the runtime's workers keep serving other connections.
        let handler = shared.handler.clone();
        let mut moved = session.clone();
        match tokio::task::spawn_blocking(move || {
            let responses = handler.handle(&mut moved, message);
            (responses, moved)
        })
        .await
        {
            Ok((responses, moved)) => {
                *session = moved;
                responses
            }
            Err(error) => {
                warn!(%error, "a large request's handler did not finish");
                return Next::Close;
            }
        }
    } else {
        shared.handler.handle(session, message)
    };
    for response in responses {
        codec::encode_into(out, &response);
    }
    Next::Continue
}

/// Requests larger than this are handled on a blocking thread (see the end of `dispatch`).
const LARGE_REQUEST_BYTES: usize = 64 * 1024;
