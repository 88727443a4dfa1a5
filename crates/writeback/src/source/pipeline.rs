//! The reading pipeline: a reader thread finds the records and copies their bytes, a few checking
//! threads parse, check and prepare them, and the caller's thread takes them back in export order.

use super::check::check_device;
use super::{DeviceSource, RawRecord, SourceRecord, SourceSummary};
use crate::error::{RecordRef, WritebackError};

impl DeviceSource {
    /// Like [`DeviceSource::for_each`], with `prepare` applied to each checked record on the
    /// checking thread before `visit` sees it: work that needs no state of the caller's (the
    /// planner maps each device for the forest there) runs beside the caller's.
    pub fn for_each_prepared<T: Send>(
        &self,
        prepare: &(dyn Fn(SourceRecord) -> T + Sync),
        visit: &mut dyn FnMut(T),
    ) -> Result<SourceSummary, WritebackError> {
        // A reader thread finds the records and copies their bytes, a few checking threads
        // parse, check and prepare them (the costly part), and this thread hands them to `visit`.
        // Batches go round-robin to the checkers and are read back in the same round-robin order,
        // so `visit` sees export order. Batches (one byte buffer for 256 records) keep the
        // channels and the allocator cheap; the bounds keep memory at a few batches a thread.
        const BATCH: usize = 256;
        let owners = self.owners.as_ref();
        let checkers = std::thread::available_parallelism()
            .map_or(2, |n| n.get())
            .clamp(2, 4);
        std::thread::scope(|scope| {
            let mut raw_senders = Vec::with_capacity(checkers);
            let mut receivers = Vec::with_capacity(checkers);
            let mut checking = Vec::with_capacity(checkers);
            for _ in 0..checkers {
                let (raw_sender, raw_receiver) = std::sync::mpsc::sync_channel::<RawBatch>(4);
                let (sender, receiver) = std::sync::mpsc::sync_channel::<Vec<T>>(4);
                raw_senders.push(raw_sender);
                receivers.push(receiver);
                checking.push(scope.spawn(move || {
                    let mut bad = 0u64;
                    for raw in raw_receiver {
                        let checked = raw
                            .iter()
                            .map(|raw| {
                                prepare(match check_device(raw, owners) {
                                    Ok(device) => SourceRecord::Device(Box::new(device)),
                                    Err(error) => {
                                        bad += 1;
                                        SourceRecord::Bad(error)
                                    }
                                })
                            })
                            .collect();
                        if sender.send(checked).is_err() {
                            break;
                        }
                    }
                    bad
                }));
            }
            let reader = scope.spawn(move || {
                let mut batch = RawBatch::with_capacity(BATCH);
                let mut sent = 0usize;
                let mut checker_gone = false;
                let mut send = |batch: RawBatch| {
                    if !checker_gone {
                        checker_gone = raw_senders[sent % checkers].send(batch).is_err();
                        sent += 1;
                    }
                };
                let result = self.for_each_raw(&mut |raw| {
                    batch.push(raw);
                    if batch.records.len() == BATCH {
                        send(std::mem::replace(
                            &mut batch,
                            RawBatch::with_capacity(BATCH),
                        ));
                    }
                });
                if !batch.records.is_empty() {
                    send(batch);
                }
                result
            });
            // Batch k is with checker k % checkers; the first channel that ends in that order
            // ends the export (its checker got no batch k: the reader stopped before).
            for k in 0.. {
                let Ok(batch) = receivers[k % checkers].recv() else {
                    break;
                };
                batch.into_iter().for_each(&mut *visit);
            }
            drop(receivers);
            let stopped = || WritebackError::Export {
                file: "(export)".to_owned(),
                message: "the export reader stopped unexpectedly".to_owned(),
            };
            let mut bad = 0;
            for checker in checking {
                bad += checker.join().map_err(|_| stopped())?;
            }
            let summary = reader.join().map_err(|_| stopped())??;
            Ok(SourceSummary {
                bad_records: bad,
                ..summary
            })
        })
    }
}

/// Records on their way from the reader thread to the checker: their bytes in one buffer.
struct RawBatch {
    bytes: Vec<u8>,
    records: Vec<(RecordRef, std::ops::Range<usize>, Option<u64>)>,
}

impl RawBatch {
    fn with_capacity(records: usize) -> RawBatch {
        RawBatch {
            bytes: Vec::with_capacity(records * 1024),
            records: Vec::with_capacity(records),
        }
    }

    fn push(&mut self, raw: RawRecord<'_>) {
        let start = self.bytes.len();
        self.bytes.extend_from_slice(raw.bytes);
        self.records
            .push((raw.record, start..self.bytes.len(), raw.starts_on_line));
    }

    fn iter(&self) -> impl Iterator<Item = RawRecord<'_>> + '_ {
        self.records
            .iter()
            .map(|(record, range, starts_on_line)| RawRecord {
                record: record.clone(),
                bytes: &self.bytes[range.clone()],
                starts_on_line: *starts_on_line,
            })
    }
}
