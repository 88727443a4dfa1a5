//! The semantics layer's forest-wide caches, as a `Mutex` around a map (what they are) and as a
//! `DashMap` (what the workspace declares for maps shared between threads), under the access
//! pattern they see: every request looks up its identity's token (a hit nearly always, a
//! clone of a few SIDs), a miss inserts. One and two threads (this machine has two cores;
//! the simulator's runtime has one worker per core).
//!
//! `cargo bench -p devwb-simulator --bench shared_maps`

// A bench binary reports by printing, and a failed setup is a failed run.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::hint::black_box;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use dashmap::DashMap;
use devwb_model::sd::Token;
use devwb_model::Sid;

/// Identities bound at once (connections of a busy lab: the connector, admins, tests).
const IDENTITIES: usize = 64;
/// Lookups per thread per iteration.
const LOOKUPS: usize = 10_000;

fn key(i: usize) -> String {
    format!("cn=user{i},cn=users,dc=contoso,dc=lab")
}

fn token(i: usize) -> Token {
    let domain = Sid::parse("S-1-5-21-1004336348-1177238915-682003330").unwrap();
    Token::authenticated(
        domain.with_rid(1_100 + i as u32),
        [domain.with_rid(513), domain.with_rid(1_000)],
    )
}

trait Cache: Sync {
    fn get(&self, key: &str, generation: u64) -> Option<Token>;
    fn insert(&self, key: String, generation: u64, token: Token);
}

impl Cache for Mutex<HashMap<String, (u64, Token)>> {
    fn get(&self, key: &str, generation: u64) -> Option<Token> {
        let map = self.lock().ok()?;
        map.get(key)
            .filter(|(at, _)| *at == generation)
            .map(|(_, token)| token.clone())
    }
    fn insert(&self, key: String, generation: u64, token: Token) {
        if let Ok(mut map) = self.lock() {
            map.insert(key, (generation, token));
        }
    }
}

impl Cache for DashMap<String, (u64, Token)> {
    fn get(&self, key: &str, generation: u64) -> Option<Token> {
        self.get(key)
            .filter(|entry| entry.0 == generation)
            .map(|entry| entry.1.clone())
    }
    fn insert(&self, key: String, generation: u64, token: Token) {
        DashMap::insert(self, key, (generation, token));
    }
}

/// `threads` threads each look up `LOOKUPS` identities (a miss computes and inserts).
fn run(cache: &dyn Cache, keys: &[String], threads: usize) {
    std::thread::scope(|scope| {
        for t in 0..threads {
            scope.spawn(move || {
                for n in 0..LOOKUPS {
                    let i = (n * 7 + t * 13) % keys.len();
                    let found = match cache.get(&keys[i], 1) {
                        Some(token) => token,
                        None => {
                            let token = token(i);
                            cache.insert(keys[i].clone(), 1, token.clone());
                            token
                        }
                    };
                    black_box(found);
                }
            });
        }
    });
}

fn benches(c: &mut Criterion) {
    let keys: Vec<String> = (0..IDENTITIES).map(key).collect();
    let mut group = c.benchmark_group("token_cache");
    group.measurement_time(Duration::from_secs(5));
    for threads in [1, 2] {
        let mutex: Mutex<HashMap<String, (u64, Token)>> = Mutex::new(HashMap::new());
        group.bench_with_input(
            BenchmarkId::new("mutex_hashmap", threads),
            &threads,
            |b, &threads| {
                b.iter_custom(|iterations| {
                    let started = Instant::now();
                    for _ in 0..iterations {
                        run(&mutex, &keys, threads);
                    }
                    started.elapsed()
                })
            },
        );
        let dash: DashMap<String, (u64, Token)> = DashMap::new();
        group.bench_with_input(
            BenchmarkId::new("dashmap", threads),
            &threads,
            |b, &threads| {
                b.iter_custom(|iterations| {
                    let started = Instant::now();
                    for _ in 0..iterations {
                        run(&dash, &keys, threads);
                    }
                    started.elapsed()
                })
            },
        );
    }
    group.finish();
}

criterion_group!(shared_maps, benches);
criterion_main!(shared_maps);
