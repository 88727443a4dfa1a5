//! Applying a batch of changes fast: several connections, several outstanding operations on
//! each (ldap3 multiplexes clones of one handle over one connection), retries with backoff on
//! `busy`, `unavailable`, timeouts and lost connections (the connection is reopened and bound
//! again), and one outcome per change carrying the server's code and text.
//!
//! This module decides nothing about what the changes mean: an add that meets
//! `entryAlreadyExists` is reported as [`ChangeStatus::AlreadyExists`] and the caller (writeback)
//! decides how to converge. Changes are independent: they may complete in any order, so a
//! batch must not contain a change that depends on another change of the same batch.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use devwb_model::Dn;
use ldap3::Ldap;
use tokio::sync::{mpsc, Mutex, RwLock};

use crate::change::{execute, Change};
use crate::client::{open_connection, Client};
use crate::connect::{ConnectOptions, Credentials};
use crate::error::{code, result_code_name, Error, Operation};

/// How often and how patiently to retry a change that failed in a retryable way.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RetryPolicy {
    /// Attempts per change, the first included (1 = no retry).
    pub max_attempts: u32,
    /// The wait before the second attempt; doubled for each further attempt.
    pub initial_backoff: Duration,
    /// The longest wait between two attempts.
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    /// 5 attempts, 100 ms then doubling up to 5 s.
    fn default() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 5,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(5),
        }
    }
}

impl RetryPolicy {
    /// The wait after failed attempt number `attempt` (1-based).
    pub fn backoff(&self, attempt: u32) -> Duration {
        let factor = 1u32
            .checked_shl(attempt.saturating_sub(1).min(16))
            .unwrap_or(u32::MAX);
        self.initial_backoff
            .saturating_mul(factor)
            .min(self.max_backoff)
    }
}

/// Concurrency and retries of [`Client::apply_changes`].
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ApplyOptions {
    /// Connections to use, this client's own included (at least 1).
    pub connections: usize,
    /// Operations outstanding at once on each connection (at least 1).
    pub in_flight_per_connection: usize,
    /// Retries of busy, unavailable, timed-out and connection-lost operations.
    pub retry: RetryPolicy,
    /// Keep an outcome in the report for every change, or only for those that did not simply
    /// apply (already existed, failed). A large batch reports its applied changes as counts
    /// ([`ApplyReport::applied_by_operation`]) rather than hold a DN for each.
    pub keep_applied_outcomes: bool,
}

impl Default for ApplyOptions {
    /// 4 connections with 32 operations in flight each, default retries, every outcome kept.
    fn default() -> ApplyOptions {
        ApplyOptions {
            connections: 4,
            in_flight_per_connection: 32,
            retry: RetryPolicy::default(),
            keep_applied_outcomes: true,
        }
    }
}

/// Changes applied, by operation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct OperationCounts {
    /// Adds.
    pub adds: usize,
    /// Modifies.
    pub modifies: usize,
    /// Deletes.
    pub deletes: usize,
}

/// What became of one change.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum ChangeStatus {
    /// The server applied it.
    Applied,
    /// An add met `entryAlreadyExists` (68). After a retry this can mean our own earlier
    /// attempt succeeded before the connection dropped.
    AlreadyExists {
        /// The server's text.
        message: String,
    },
    /// It failed for good (or ran out of attempts).
    Failed {
        /// The LDAP result code, when the server sent one.
        code: Option<u32>,
        /// Its name (`insufficientAccessRights`), or what failed without a code (`timeout`).
        code_name: String,
        /// The whole error message, the server's diagnostic text included.
        message: String,
    },
}

/// The outcome of one change.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ChangeOutcome {
    /// The change's position in the batch.
    pub index: usize,
    /// Its DN.
    pub dn: Dn,
    /// Its operation.
    pub operation: Operation,
    /// What became of it.
    pub status: ChangeStatus,
    /// Attempts made.
    pub attempts: u32,
}

/// Progress of a batch, given to the callback after each change completes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ApplyProgress {
    /// Changes in the batch.
    pub total: usize,
    /// Changes completed (in any status).
    pub done: usize,
    /// Changes that failed.
    pub failed: usize,
    /// Retries so far.
    pub retries: u64,
}

/// The outcome of a batch.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ApplyReport {
    /// One outcome per change, in batch order; without
    /// [`ApplyOptions::keep_applied_outcomes`], only those of the changes that did not simply
    /// apply.
    pub outcomes: Vec<ChangeOutcome>,
    /// Changes applied.
    pub applied: usize,
    /// Changes applied, by operation.
    pub applied_by_operation: OperationCounts,
    /// Adds that met an existing entry.
    pub already_existed: usize,
    /// Changes that failed.
    pub failed: usize,
    /// Retries made.
    pub retries: u64,
    /// Connections reopened after a loss.
    pub reconnects: u64,
    /// Connections used.
    pub connections: usize,
    /// Wall time of the batch.
    pub elapsed: Duration,
}

impl ApplyReport {
    /// The outcomes that failed.
    pub fn failures(&self) -> impl Iterator<Item = &ChangeOutcome> {
        self.outcomes
            .iter()
            .filter(|o| matches!(o.status, ChangeStatus::Failed { .. }))
    }
}

/// A connection shared by several in-flight tasks; replaced (generation + 1) after a loss.
struct Slot {
    current: RwLock<(u64, Ldap)>,
}

struct Shared {
    /// The changes still to send, with their positions, fed by the calling thread.
    queue: Mutex<mpsc::Receiver<(usize, Change)>>,
    retries: AtomicU64,
    reconnects: AtomicU64,
    options: ConnectOptions,
    credentials: Option<Credentials>,
    retry: RetryPolicy,
}

impl Client {
    /// Applies `changes` with bounded concurrency and retries; calls `progress` after each change
    /// completes (on the calling thread). Never fails as a whole: each change has its outcome.
    pub fn apply_changes(
        &self,
        changes: Vec<Change>,
        options: &ApplyOptions,
        progress: &mut dyn FnMut(&ApplyProgress),
    ) -> ApplyReport {
        let total = changes.len();
        self.apply_each(total, &mut changes.into_iter(), options, progress)
    }

    /// Like [`Client::apply_changes`], for changes made as they are sent: `changes` is pulled on
    /// the calling thread only as fast as the connections take them (a few hundred ahead), so a
    /// caller can turn a large plan into requests one at a time instead of holding them all.
    /// `total` is the number of changes expected, for progress; outcomes are numbered in the
    /// order `changes` yields them.
    pub fn apply_each(
        &self,
        total: usize,
        changes: &mut dyn Iterator<Item = Change>,
        options: &ApplyOptions,
        progress: &mut dyn FnMut(&ApplyProgress),
    ) -> ApplyReport {
        let started = Instant::now();
        let span = tracing::info_span!("ldap.apply", total, connections = options.connections);
        let _entered = span.enter();
        let wanted_connections = options.connections.max(1).min(total.max(1));
        let in_flight = options.in_flight_per_connection.max(1);
        // Room for every worker's next change, twice over: the workers never wait for the
        // calling thread while it keeps up, and memory stays bounded.
        let (queue_sender, queue) =
            mpsc::channel::<(usize, Change)>(wanted_connections * in_flight * 2);
        let shared = Arc::new(Shared {
            queue: Mutex::new(queue),
            retries: AtomicU64::new(0),
            reconnects: AtomicU64::new(0),
            options: self.options.clone(),
            credentials: self.credentials.clone(),
            retry: options.retry.clone(),
        });
        let own = self.handle();
        let (report, own_now) = self.runtime.block_on(async move {
            let mut slots = vec![Arc::new(Slot { current: RwLock::new((0, own)) })];
            let extra: Vec<_> = (1..wanted_connections)
                .map(|_| {
                    let shared = shared.clone();
                    tokio::spawn(async move { open_connection(&shared.options, shared.credentials.as_ref()).await })
                })
                .collect();
            for handle in extra {
                match handle.await {
                    Ok(Ok(ldap)) => slots.push(Arc::new(Slot { current: RwLock::new((0, ldap)) })),
                    Ok(Err(error)) => tracing::warn!(%error, "could not open an extra connection; continuing with fewer"),
                    Err(error) => tracing::warn!(%error, "connection task failed; continuing with fewer"),
                }
            }
            let connections = slots.len();
            let (sender, mut receiver) = mpsc::unbounded_channel::<ChangeOutcome>();
            for slot in &slots {
                for _ in 0..in_flight {
                    let shared = shared.clone();
                    let slot = slot.clone();
                    let sender = sender.clone();
                    tokio::spawn(async move { worker(shared, slot, sender).await });
                }
            }
            drop(sender);
            // The calling thread feeds the queue while it collects outcomes.
            let keep_applied = options.keep_applied_outcomes;
            let mut sent: Vec<Operation> = Vec::with_capacity(total);
            let feed = async {
                for change in changes {
                    let index = sent.len();
                    sent.push(change.operation());
                    if queue_sender.send((index, change)).await.is_err() {
                        break; // every worker is gone: what was not sent is reported below
                    }
                }
                drop(queue_sender);
            };
            let mut outcomes: Vec<ChangeOutcome> =
                Vec::with_capacity(if keep_applied { total } else { 0 });
            let mut state = ApplyProgress { total, done: 0, failed: 0, retries: 0 };
            let (mut applied, mut already_existed) = (0usize, 0usize);
            let mut by_operation = OperationCounts::default();
            let mut reported = vec![false; total];
            let collect = async {
                while let Some(outcome) = receiver.recv().await {
                    state.done += 1;
                    match outcome.status {
                        ChangeStatus::Applied => {
                            applied += 1;
                            match outcome.operation {
                                Operation::Add => by_operation.adds += 1,
                                Operation::Modify => by_operation.modifies += 1,
                                _ => by_operation.deletes += 1,
                            }
                        }
                        ChangeStatus::AlreadyExists { .. } => already_existed += 1,
                        ChangeStatus::Failed { .. } => state.failed += 1,
                    }
                    state.retries = shared.retries.load(Ordering::Relaxed);
                    let index = outcome.index;
                    if reported.len() <= index {
                        reported.resize(index + 1, false);
                    }
                    reported[index] = true;
                    if keep_applied || !matches!(outcome.status, ChangeStatus::Applied) {
                        outcomes.push(outcome);
                    }
                    progress(&state);
                }
            };
            {
                // Outcomes end when every worker has ended: normally after the queue closed, or
                // early if the workers stopped (a panic), and then feeding must stop too.
                tokio::pin!(feed);
                tokio::pin!(collect);
                let mut fed = false;
                loop {
                    tokio::select! {
                        () = &mut feed, if !fed => fed = true,
                        () = &mut collect => break,
                    }
                }
            }
            // Only reachable if a worker task panicked: report its change rather than lose it.
            reported.resize(sent.len(), false);
            for (index, operation) in sent.into_iter().enumerate() {
                if !reported[index] {
                    outcomes.push(ChangeOutcome {
                        index,
                        dn: Dn::root(),
                        operation,
                        status: ChangeStatus::Failed {
                            code: None,
                            code_name: "internal".into(),
                            message: format!("the worker applying change #{index} of the batch stopped unexpectedly"),
                        },
                        attempts: 0,
                    });
                }
            }
            outcomes.sort_by_key(|outcome| outcome.index);
            let failed = outcomes.iter().filter(|o| matches!(o.status, ChangeStatus::Failed { .. })).count();
            let report = ApplyReport {
                outcomes,
                applied,
                applied_by_operation: by_operation,
                already_existed,
                failed,
                retries: shared.retries.load(Ordering::Relaxed),
                reconnects: shared.reconnects.load(Ordering::Relaxed),
                connections,
                elapsed: started.elapsed(),
            };
            tracing::info!(
                applied = report.applied,
                already_existed = report.already_existed,
                failed = report.failed,
                retries = report.retries,
                elapsed_ms = report.elapsed.as_millis() as u64,
                "batch applied"
            );
            // This client's own connection may have been reopened during the batch: keep the new one.
            let own_now = {
                let current = slots[0].current.read().await;
                (current.0 > 0).then(|| current.1.clone())
            };
            (report, own_now)
        });
        if let Some(ldap) = own_now {
            self.replace_handle(ldap);
        }
        report
    }
}

async fn worker(
    shared: Arc<Shared>,
    slot: Arc<Slot>,
    sender: mpsc::UnboundedSender<ChangeOutcome>,
) {
    loop {
        let next = shared.queue.lock().await.recv().await;
        let Some((index, change)) = next else {
            break;
        };
        let change = &change;
        let mut attempts = 0u32;
        let status = loop {
            attempts += 1;
            let (generation, mut ldap) = {
                let current = slot.current.read().await;
                (current.0, current.1.clone())
            };
            match execute(&mut ldap, change, Vec::new(), shared.options.timeout).await {
                Ok(()) => break ChangeStatus::Applied,
                Err(error)
                    if matches!(change, Change::Add { .. })
                        && error.result_code() == Some(code::ENTRY_ALREADY_EXISTS) =>
                {
                    break ChangeStatus::AlreadyExists {
                        message: error.server_message().unwrap_or_default().to_string(),
                    }
                }
                Err(error) if error.is_retryable() && attempts < shared.retry.max_attempts => {
                    shared.retries.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(dn = %change.dn(), attempts, %error, "retrying");
                    if error.is_connection_lost() {
                        reconnect(&shared, &slot, generation).await;
                    }
                    tokio::time::sleep(shared.retry.backoff(attempts)).await;
                }
                Err(error) => break failed_status(&error),
            }
        };
        let outcome = ChangeOutcome {
            index,
            dn: change.dn().clone(),
            operation: change.operation(),
            status,
            attempts,
        };
        if sender.send(outcome).is_err() {
            break;
        }
    }
}

/// Replaces the slot's connection unless another task already did since `seen_generation`.
async fn reconnect(shared: &Shared, slot: &Slot, seen_generation: u64) {
    let mut current = slot.current.write().await;
    if current.0 != seen_generation {
        return;
    }
    match open_connection(&shared.options, shared.credentials.as_ref()).await {
        Ok(ldap) => {
            *current = (seen_generation + 1, ldap);
            shared.reconnects.fetch_add(1, Ordering::Relaxed);
            tracing::info!(url = %shared.options.url, "reconnected after a lost connection");
        }
        Err(error) => tracing::warn!(%error, "reconnect failed; will retry"),
    }
}

fn failed_status(error: &Error) -> ChangeStatus {
    let code_name = match error.result_code() {
        Some(code) => result_code_name(code).to_string(),
        None => match error.kind() {
            crate::error::ErrorKind::Timeout { .. } => "timeout".to_string(),
            crate::error::ErrorKind::ConnectionLost { .. } => "connection lost".to_string(),
            _ => "client error".to_string(),
        },
    };
    ChangeStatus::Failed {
        code: error.result_code(),
        code_name,
        message: error.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let policy = RetryPolicy {
            max_attempts: 10,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(1000),
        };
        let waits: Vec<u128> = (1..=6).map(|a| policy.backoff(a).as_millis()).collect();
        assert_eq!(waits, vec![100, 200, 400, 800, 1000, 1000]);
        assert_eq!(policy.backoff(200), Duration::from_millis(1000));
    }
}
