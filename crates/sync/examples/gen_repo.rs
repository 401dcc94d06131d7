//! Generates the deterministic test repository (analytics spec §9.7, §15): a bare repository
//! with a root commit, merges (about one in ten), renames, binaries, a symlink, a submodule
//! pointer, an executable-bit flip, lockfiles and a `.mailmap`.
//!
//! `scripts/gen-repo PATH [--commits N] [--seed S]` runs it; compare with
//! `git -C PATH log --numstat --no-renames` and `dev-health sync git PATH --org ORG`.

#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::path::PathBuf;
use std::process::ExitCode;

use sync::git::generate::{GenOptions, generate_repo};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let value = |name: &str, default: u64| -> Result<u64, String> {
        match args.iter().position(|a| a == name) {
            None => Ok(default),
            Some(i) => args
                .get(i + 1)
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| format!("{name} needs a number")),
        }
    };
    let path = args
        .first()
        .filter(|a| !a.starts_with("--"))
        .map(PathBuf::from);
    let parsed = (|| {
        let commits = u32::try_from(value("--commits", 1_000)?).map_err(|e| e.to_string())?;
        Ok::<_, String>((commits, value("--seed", 1)?))
    })();
    let (Some(path), Ok((commits, seed))) = (path, parsed) else {
        eprintln!("usage: gen_repo PATH [--commits N] [--seed S]");
        return ExitCode::from(64);
    };
    if path.exists() {
        eprintln!(
            "error: {} exists\n  hint: give a path that does not exist yet",
            path.display()
        );
        return ExitCode::from(1);
    }
    match generate_repo(&path, GenOptions { commits, seed }) {
        Ok(s) => {
            println!(
                "generated {} commits ({} merges) in {} (branch main)",
                s.commits,
                s.merges,
                path.display()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}\n  hint: git must be installed");
            ExitCode::from(1)
        }
    }
}
