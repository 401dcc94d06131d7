//! A deterministic synthetic repository for tests and benchmarks (analytics spec §9.7, §15):
//! a root commit, ordinary edits, additions, deletions, renames (a delete plus an add, as
//! `--no-renames` sees them), binary files, an executable-bit flip, a symlink, a submodule
//! pointer, excluded lockfiles, a `.mailmap`, and about one merge in ten, whose topic branches
//! run alongside the main line. Written as a `git fast-import` stream, so even 100,000 commits
//! take seconds to build.

use std::collections::HashMap;
use std::io::{self, Write};
use std::path::Path;
use std::process::{Command, Stdio};

/// What to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GenOptions {
    /// Commits in total, merges included.
    pub commits: u32,
    /// The seed: the same seed gives the same repository, byte for byte.
    pub seed: u64,
}

/// What was generated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GenSummary {
    /// Commits written.
    pub commits: u32,
    /// Of which merges.
    pub merges: u32,
}

/// The people committing: two share a person under different emails, which the repo's
/// `.mailmap` joins.
const PEOPLE: &[(&str, &str)] = &[
    ("Ada Lovelace", "ada@example.com"),
    ("Grace Hopper", "grace@example.com"),
    ("Linus T", "linus@example.org"),
    ("Ada L", "ADA@old-laptop.local"),
    (
        "dependabot[bot]",
        "49699333+dependabot[bot]@users.noreply.github.com",
    ),
    ("Ken Thompson", "12345+kenthompson@users.noreply.github.com"),
];

const MAILMAP: &str = "Ada Lovelace <ada@example.com> <ADA@old-laptop.local>\n";

const WORDS: &[&str] = &[
    "fn", "let", "match", "impl", "struct", "return", "self", "Some", "None", "Ok", "value",
    "count", "index", "buffer", "parse", "render", "commit", "tree", "delta", "merge",
];

/// splitmix64: tiny, seedable, stable across versions (a rand upgrade must not change the
/// benchmark's repository).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % n.max(1) as u64).unwrap_or(0)
    }

    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
}

/// A file's mode and content.
#[derive(Clone, PartialEq, Eq)]
struct Entry {
    mode: &'static str,
    data: Vec<u8>,
}

/// One change of a commit: a path written (`Some`) or deleted (`None`).
type Op = (String, Option<Entry>);

/// Files under one directory prefix, with O(1) random picks and removals, so a commit costs
/// the same at commit 100,000 as at commit 10.
#[derive(Default)]
struct Files {
    content: HashMap<String, Entry>,
    texts: Vec<String>,
    at: HashMap<String, usize>,
    bins: Vec<String>,
}

impl Files {
    fn write(&mut self, path: &str, e: Entry) {
        let is_text = e.mode != "160000" && e.mode != "120000" && !path.ends_with(".bin");
        if path.ends_with(".bin") && !self.content.contains_key(path) {
            self.bins.push(path.to_owned());
        }
        if is_text && !self.at.contains_key(path) {
            self.at.insert(path.to_owned(), self.texts.len());
            self.texts.push(path.to_owned());
        }
        self.content.insert(path.to_owned(), e);
    }

    fn delete(&mut self, path: &str) -> Option<Entry> {
        if let Some(i) = self.at.remove(path) {
            self.texts.swap_remove(i);
            if let Some(moved) = self.texts.get(i) {
                self.at.insert(moved.clone(), i);
            }
        }
        self.bins.retain(|b| b != path);
        self.content.remove(path)
    }
}

struct Generator<W: Write> {
    out: W,
    rng: Rng,
    mark: u64,
    time: i64,
    files_made: u64,
    summary: GenSummary,
}

impl<W: Write> Generator<W> {
    fn text(&mut self, lines: usize) -> Vec<u8> {
        let mut s = String::new();
        for _ in 0..lines {
            let n = 2 + self.rng.below(6);
            let words: Vec<&str> = (0..n).map(|_| WORDS[self.rng.below(WORDS.len())]).collect();
            s.push_str(&words.join(" "));
            s.push('\n');
        }
        s.into_bytes()
    }

    fn binary(&mut self) -> Vec<u8> {
        let len = 64 + self.rng.below(512);
        let mut b: Vec<u8> = (0..len).map(|_| (self.rng.next() & 0xff) as u8).collect();
        b[3] = 0;
        b
    }

    fn new_path(&mut self, dir: &str, ext: &str) -> String {
        self.files_made += 1;
        // Two directory levels keep trees small (git and fast-import rewrite a changed tree
        // whole), as real repositories do.
        let (a, b) = (self.rng.below(8), self.rng.below(16));
        format!("{dir}/m{a}/d{b}/f{}.{ext}", self.files_made)
    }

    /// Edits a text file: changes, inserts and deletes a few lines.
    fn edit(&mut self, data: &[u8]) -> Vec<u8> {
        let mut lines: Vec<Vec<u8>> = data
            .split_inclusive(|&b| b == b'\n')
            .map(<[u8]>::to_vec)
            .collect();
        for _ in 0..1 + self.rng.below(3) {
            let op = self.rng.below(3);
            let at = self.rng.below(lines.len() + 1);
            match op {
                0 if at < lines.len() => lines[at] = self.text(1),
                1 if at < lines.len() && lines.len() > 1 => {
                    lines.remove(at);
                }
                _ => {
                    let n = 1 + self.rng.below(4);
                    let new = self.text(n);
                    lines.insert(at, new);
                }
            }
        }
        lines.concat()
    }

    /// One ordinary change set on the files under `prefix` (`src` on the main line, a topic's
    /// own directory on a topic branch), applied to `files` and returned as ops.
    fn change(&mut self, files: &mut Files, prefix: &str, lock: Option<&mut Files>) -> Vec<Op> {
        let mut ops: Vec<Op> = Vec::new();
        let put = |files: &mut Files, ops: &mut Vec<Op>, path: String, e: Entry| {
            files.write(&path, e.clone());
            ops.push((path, Some(e)));
        };
        let n = files.texts.len();
        let roll = self.rng.below(100);
        match roll {
            _ if n < 4 || roll < 12 => {
                let path = self.new_path(prefix, "rs");
                let lines = 1 + self.rng.below(40);
                let data = self.text(lines);
                put(
                    files,
                    &mut ops,
                    path,
                    Entry {
                        mode: "100644",
                        data,
                    },
                );
            }
            12..=17 => {
                // A rename: same content, new path.
                let from = files.texts[self.rng.below(n)].clone();
                if let Some(e) = files.delete(&from) {
                    ops.push((from, None));
                    let to = self.new_path(prefix, "rs");
                    put(files, &mut ops, to, e);
                }
            }
            18..=21 => {
                let victim = files.texts[self.rng.below(n)].clone();
                files.delete(&victim);
                ops.push((victim, None));
            }
            22..=26 => {
                let path = if self.rng.chance(50) || files.bins.is_empty() {
                    self.new_path(prefix, "bin")
                } else {
                    files.bins[self.rng.below(files.bins.len())].clone()
                };
                let data = self.binary();
                put(
                    files,
                    &mut ops,
                    path,
                    Entry {
                        mode: "100644",
                        data,
                    },
                );
            }
            27..=30 if lock.is_some() => {
                if let Some(root) = lock {
                    // Edited in place, not appended to: a lockfile that grew by every change
                    // would make each version megabytes and the repository slow to build and
                    // to diff, unlike a real one.
                    let data = match root.content.get("Cargo.lock") {
                        Some(e) => {
                            let old = e.data.clone();
                            self.edit(&old)
                        }
                        None => {
                            let lines = 20 + self.rng.below(30);
                            self.text(lines)
                        }
                    };
                    put(
                        root,
                        &mut ops,
                        "Cargo.lock".to_owned(),
                        Entry {
                            mode: "100644",
                            data,
                        },
                    );
                }
            }
            31 if prefix == "src" => {
                // An executable-bit flip with the same content: numstat 0/0.
                let p = files.texts[self.rng.below(n)].clone();
                if let Some(mut e) = files.content.get(&p).cloned() {
                    e.mode = if e.mode == "100755" {
                        "100644"
                    } else {
                        "100755"
                    };
                    put(files, &mut ops, p, e);
                }
            }
            _ => {
                for _ in 0..1 + self.rng.below(3) {
                    let p = files.texts[self.rng.below(files.texts.len())].clone();
                    if let Some(e) = files.content.get(&p).cloned() {
                        let data = self.edit(&e.data);
                        put(files, &mut ops, p, Entry { mode: e.mode, data });
                    }
                }
            }
        }
        ops
    }

    fn who(&mut self) -> (&'static str, &'static str) {
        PEOPLE[self.rng.below(PEOPLE.len())]
    }

    /// Writes a commit on `branch` applying `ops` to its first parent's tree; returns its mark.
    fn commit(
        &mut self,
        branch: &str,
        parents: &[u64],
        ops: &[Op],
        message: &str,
    ) -> io::Result<u64> {
        let mut lines = Vec::with_capacity(ops.len());
        for (path, e) in ops {
            match e {
                None => lines.push(format!("D {path}\n")),
                Some(e) if e.mode == "160000" => lines.push(format!(
                    "M 160000 {} {path}\n",
                    String::from_utf8_lossy(&e.data)
                )),
                Some(e) => {
                    self.mark += 1;
                    write!(
                        self.out,
                        "blob\nmark :{}\ndata {}\n",
                        self.mark,
                        e.data.len()
                    )?;
                    self.out.write_all(&e.data)?;
                    self.out.write_all(b"\n")?;
                    lines.push(format!("M {} :{} {path}\n", e.mode, self.mark));
                }
            }
        }
        self.mark += 1;
        let mark = self.mark;
        let (name, email) = self.who();
        self.time += 600 + i64::try_from(self.rng.below(7_200)).unwrap_or(0);
        let author_time = self.time - i64::try_from(self.rng.below(3_600)).unwrap_or(0);
        write!(
            self.out,
            "commit refs/heads/{branch}\nmark :{mark}\nauthor {name} <{email}> {author_time} +0200\n\
             committer {name} <{email}> {} +0000\ndata {}\n{message}\n",
            self.time,
            message.len()
        )?;
        if let Some((first, rest)) = parents.split_first() {
            writeln!(self.out, "from :{first}")?;
            for p in rest {
                writeln!(self.out, "merge :{p}")?;
            }
        }
        for line in lines {
            self.out.write_all(line.as_bytes())?;
        }
        self.out.write_all(b"\n")?;
        self.summary.commits += 1;
        if parents.len() > 1 {
            self.summary.merges += 1;
        }
        Ok(mark)
    }
}

/// Writes the `git fast-import` stream of the repository `opts` describes.
pub fn fast_import_stream(opts: GenOptions, out: impl Write) -> io::Result<GenSummary> {
    let mut g = Generator {
        out,
        rng: Rng(opts.seed),
        mark: 0,
        time: 1_704_067_200, // 2024-01-01T00:00:00Z
        files_made: 0,
        summary: GenSummary::default(),
    };
    // `src` holds the main line's own files; `root` everything else it writes.
    let mut src = Files::default();
    let mut root = Files::default();
    let mut ops: Vec<Op> = Vec::new();
    // The root commit: a few files, one without a final newline, one empty.
    for i in 0..6 {
        let lines = 5 + g.rng.below(30);
        let e = Entry {
            mode: "100644",
            data: g.text(lines),
        };
        let path = format!("src/m{i}/root{i}.rs");
        src.write(&path, e.clone());
        ops.push((path, Some(e)));
    }
    for (path, data) in [
        ("README", b"no newline at the end".to_vec()),
        ("src/empty.rs", Vec::new()),
    ] {
        let e = Entry {
            mode: "100644",
            data,
        };
        root.write(path, e.clone());
        ops.push((path.to_owned(), Some(e)));
    }
    let mut tip = g.commit("main", &[], &ops, "root commit")?;

    let mut n = 1;
    let mut bumped = false;
    while n < opts.commits {
        // About one commit in ten is a merge of a short topic branch that ran alongside.
        if n >= 3 && n + 4 < opts.commits && g.rng.chance(10) {
            let fork = tip;
            let dir = format!("topic{n}");
            let branch = format!("topic/{n}");
            let mut topic = Files::default();
            let mut topic_ops: Vec<Op> = Vec::new();
            let mut topic_tip = fork;
            for k in 0..1 + g.rng.below(2) {
                let ops = g.change(&mut topic, &dir, None);
                topic_tip = g.commit(&branch, &[topic_tip], &ops, &format!("topic {n}.{k}"))?;
                topic_ops.extend(ops);
                n += 1;
            }
            // The main line moves on meanwhile, touching only its own new files.
            let path = g.new_path("mainline", "rs");
            let e = Entry {
                mode: "100644",
                data: g.text(3),
            };
            root.write(&path, e.clone());
            tip = g.commit("main", &[fork], &[(path, Some(e))], &format!("main {n}"))?;
            n += 1;
            tip = g.commit(
                "main",
                &[tip, topic_tip],
                &topic_ops,
                &format!("Merge branch '{branch}'"),
            )?;
            n += 1;
            for (path, e) in topic_ops {
                match e {
                    Some(e) => root.write(&path, e),
                    None => {
                        root.delete(&path);
                    }
                }
            }
            continue;
        }
        let ops: Vec<Op> = if n >= 3 && !root.content.contains_key(".mailmap") {
            let entries = [
                (
                    ".mailmap",
                    Entry {
                        mode: "100644",
                        data: MAILMAP.as_bytes().to_vec(),
                    },
                ),
                (
                    "docs/current",
                    Entry {
                        mode: "120000",
                        data: b"../README".to_vec(),
                    },
                ),
                (
                    "vendor/lib",
                    Entry {
                        mode: "160000",
                        data: format!("{:040x}", opts.seed.wrapping_add(1)).into_bytes(),
                    },
                ),
            ];
            entries
                .into_iter()
                .map(|(p, e)| {
                    root.write(p, e.clone());
                    (p.to_owned(), Some(e))
                })
                .collect()
        } else if n >= 7 && !bumped && root.content.contains_key("vendor/lib") {
            bumped = true;
            let e = Entry {
                mode: "160000",
                data: format!("{:040x}", opts.seed.wrapping_add(2)).into_bytes(),
            };
            root.write("vendor/lib", e.clone());
            vec![("vendor/lib".to_owned(), Some(e))]
        } else {
            g.change(&mut src, "src", Some(&mut root))
        };
        tip = g.commit("main", &[tip], &ops, &format!("change {n}"))?;
        n += 1;
    }
    g.out.flush()?;
    Ok(g.summary)
}

/// Creates a repository at `dir` (which must not exist or be empty) with `git init` and `git
/// fast-import`, with `main` checked out as HEAD.
pub fn generate_repo(dir: &Path, opts: GenOptions) -> io::Result<GenSummary> {
    std::fs::create_dir_all(dir)?;
    let git = |args: &[&str]| -> io::Result<()> {
        let status = Command::new("git")
            .args(["-c", "init.defaultBranch=main"])
            .args(args)
            .current_dir(dir)
            .stdout(Stdio::null())
            .status()?;
        if status.success() {
            Ok(())
        } else {
            Err(io::Error::other(format!(
                "git {} failed: {status}",
                args.join(" ")
            )))
        }
    };
    git(&["init", "--quiet", "--bare"])?;
    let mut child = Command::new("git")
        .args(["fast-import", "--quiet"])
        .current_dir(dir)
        .stdin(Stdio::piped())
        .spawn()?;
    let stdin = child
        .stdin
        .take()
        .ok_or_else(|| io::Error::other("git fast-import has no stdin"))?;
    let summary = fast_import_stream(opts, io::BufWriter::new(stdin))?;
    let status = child.wait()?;
    if !status.success() {
        return Err(io::Error::other(format!(
            "git fast-import failed: {status}"
        )));
    }
    git(&["symbolic-ref", "HEAD", "refs/heads/main"])?;
    Ok(summary)
}
