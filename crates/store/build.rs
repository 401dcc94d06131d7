//! `sqlx::migrate!` embeds the migration folders at compile time; tell Cargo to rebuild this
//! crate when a migration is added or changed, or a new migration would be silently missing.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
