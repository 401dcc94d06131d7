//! Shared support of the app's provider sync tests: the fake provider server and helpers.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, missing_docs)]

pub mod env;
#[path = "../../../sync/tests/support/fake.rs"]
pub mod fake;
