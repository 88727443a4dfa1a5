//! The injected clock and id source. Every generated value that would make a test
//! non-deterministic (`whenCreated`, `currentTime`, `objectGUID`, domain SIDs, generated
//! passwords) comes from here, so a test can fix them.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use devwb_model::civil::civil_from_days;
use devwb_synthetic::{splitmix64, SPLITMIX64_GAMMA};

/// Where the simulator gets the current time.
pub trait Clock: Send + Sync + fmt::Debug {
    /// The current time.
    fn now(&self) -> SystemTime;
}

/// The system's clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// A clock that stands still until told to move, for deterministic tests.
#[derive(Debug)]
pub struct FixedClock {
    now: Mutex<SystemTime>,
}

impl FixedClock {
    /// A clock showing `now`.
    pub fn new(now: SystemTime) -> FixedClock {
        FixedClock {
            now: Mutex::new(now),
        }
    }

    /// A clock at `seconds` after the Unix epoch.
    pub fn at_unix(seconds: u64) -> FixedClock {
        FixedClock::new(UNIX_EPOCH + Duration::from_secs(seconds))
    }

    /// Moves the clock forward.
    pub fn advance(&self, by: Duration) {
        let mut now = self.now.lock().unwrap_or_else(|p| p.into_inner());
        *now += by;
    }
}

impl Clock for FixedClock {
    fn now(&self) -> SystemTime {
        *self.now.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Where the simulator gets identifiers: GUIDs and random numbers.
pub trait IdSource: Send + Sync + fmt::Debug {
    /// The next 64 random bits.
    fn next_u64(&self) -> u64;

    /// A new GUID in AD's byte order, version 4 (random).
    fn next_guid(&self) -> [u8; 16] {
        let mut bytes = [0u8; 16];
        let (low, high) = bytes.split_at_mut(8);
        low.copy_from_slice(&self.next_u64().to_le_bytes());
        high.copy_from_slice(&self.next_u64().to_le_bytes());
        // AD stores Data3 little-endian: the version nibble is the high nibble of byte 7.
        bytes[7] = (bytes[7] & 0x0f) | 0x40;
        bytes[8] = (bytes[8] & 0x3f) | 0x80;
        bytes
    }
}

/// A splitmix64 generator: deterministic under a seed, which is all a simulator needs (these
/// identifiers are not secrets, except the generated admin password, whose seed comes from the
/// system clock unless the test fixes it).
#[derive(Debug)]
pub struct SeededIds {
    state: AtomicU64,
}

impl SeededIds {
    /// Ids determined by `seed`.
    pub fn new(seed: u64) -> SeededIds {
        SeededIds {
            state: AtomicU64::new(seed),
        }
    }

    /// Ids seeded from the clock and the process id, different on every start.
    pub fn from_entropy() -> SeededIds {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        let stack_address = &nanos as *const u64 as u64;
        SeededIds::new(
            nanos ^ (u64::from(std::process::id()) << 32) ^ stack_address.rotate_left(17),
        )
    }
}

impl IdSource for SeededIds {
    fn next_u64(&self) -> u64 {
        splitmix64(self.state.fetch_add(SPLITMIX64_GAMMA, Ordering::Relaxed))
    }
}

/// Seconds from 1601-01-01 (FILETIME's epoch) to 1970-01-01.
const FILETIME_UNIX_OFFSET_SECONDS: u64 = 11_644_473_600;

/// A time as AD's Interval syntax holds it (`pwdLastSet`, `lastLogon`): 100-nanosecond
/// intervals since 1601-01-01 UTC. Times before 1970 count as 1970.
pub fn filetime(time: SystemTime) -> u64 {
    let since_unix = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    (since_unix.as_secs() + FILETIME_UNIX_OFFSET_SECONDS) * 10_000_000
        + u64::from(since_unix.subsec_nanos() / 100)
}

/// AD's GeneralizedTime form: `YYYYMMDDHHMMSS.0Z`.
pub fn generalized_time(time: SystemTime) -> String {
    let seconds = time
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let (year, month, day) = civil_from_days(seconds.div_euclid(86_400));
    let rest = seconds.rem_euclid(86_400);
    format!(
        "{year:04}{month:02}{day:02}{:02}{:02}{:02}.0Z",
        rest / 3600,
        (rest % 3600) / 60,
        rest % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filetime_counts_from_1601() {
        assert_eq!(filetime(UNIX_EPOCH), 116_444_736_000_000_000);
        // 2026-11-25 01:02:03 UTC, the tests' fixed clock.
        let time = UNIX_EPOCH + std::time::Duration::from_secs(1_795_568_523);
        assert_eq!(filetime(time), 134_400_421_230_000_000);
    }

    #[test]
    fn generalized_time_formats_as_ad() {
        assert_eq!(generalized_time(UNIX_EPOCH), "19700101000000.0Z");
        // 2026-11-25 01:02:03 UTC
        assert_eq!(
            generalized_time(UNIX_EPOCH + Duration::from_secs(1_795_568_523)),
            "20261125010203.0Z"
        );
        assert_eq!(
            generalized_time(UNIX_EPOCH + Duration::from_secs(951_782_400)),
            "20000229000000.0Z"
        );
    }

    #[test]
    fn seeded_ids_repeat() {
        let a = SeededIds::new(42);
        let b = SeededIds::new(42);
        assert_eq!(a.next_guid(), b.next_guid());
        assert_ne!(a.next_guid(), SeededIds::new(43).next_guid());
        assert_eq!(a.next_guid()[7] & 0xf0, 0x40);
    }
}
