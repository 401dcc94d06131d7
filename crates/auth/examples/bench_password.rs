//! Milliseconds per password hash and per password check with the shipped Argon2id parameters
//! (identity spec §2.8: m = 19,456 KiB, t = 2, p = 1), run by `scripts/bench`. The cost is what
//! one login or sign-up spends on a CPU slot of `app::passwords`, so it bounds logins per second
//! per core. Refuses to run on a build with the cheap test profile, whose numbers mean nothing.
#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    clippy::expect_used,
    missing_docs
)]

use std::time::Instant;

use auth::password::{INSECURE_FAST_HASHING, PasswordHasher};

fn main() {
    if INSECURE_FAST_HASHING {
        eprintln!(
            "built with insecure-fast-hashing; run `cargo run --release -p auth --example bench_password`"
        );
        std::process::exit(2);
    }
    let rounds: u32 = std::env::args()
        .nth(1)
        .map_or(20, |n| n.parse().expect("rounds: a positive integer"));
    let hasher = PasswordHasher::new();
    let password = "correct horse battery staple";
    let phc = hasher.hash(password); // warm-up: page in the 19 MiB block once

    let start = Instant::now();
    for _ in 0..rounds {
        std::hint::black_box(hasher.hash(password));
    }
    let hash_ms = start.elapsed().as_secs_f64() * 1e3 / f64::from(rounds);

    let start = Instant::now();
    for _ in 0..rounds {
        let v = hasher.verify(password, &phc).expect("own hash parses");
        assert!(v.ok && !v.needs_rehash);
    }
    let verify_ms = start.elapsed().as_secs_f64() * 1e3 / f64::from(rounds);

    println!("argon2id m=19456 KiB t=2 p=1, {rounds} rounds on one thread");
    println!("hash    {hash_ms:.1} ms per password");
    println!("verify  {verify_ms:.1} ms per password");
    println!(
        "one core checks about {:.0} passwords/s",
        1e3 / verify_ms.max(f64::MIN_POSITIVE)
    );
}
