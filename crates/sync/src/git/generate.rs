//! A deterministic synthetic repository for tests and benchmarks (analytics spec §9.7, §15):
//! a root commit, ordinary edits, additions, deletions, renames (a delete plus an add, as
//! `--no-renames` sees them), binary files, an executable-bit flip, a symlink, a submodule
//! pointer, excluded lockfiles, a `.mailmap`, and about one merge in ten, whose topic branches
//! run alongside the main line. Written as a `git fast-import` stream, so even 100,000 commits
//! take seconds to build.

use std::collections::BTreeMap;
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

type Tree = BTreeMap<String, Entry>;

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
        let sub = self.rng.below(8);
        format!("{dir}/m{sub}/f{}.{ext}", self.files_made)
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

    /// One ordinary change set on `tree`; `prefix` keeps a topic branch's new files apart.
    fn change(&mut self, tree: &mut Tree, prefix: &str, n: u32) {
        let texts: Vec<String> = tree
            .iter()
            .filter(|(p, e)| e.mode != "160000" && e.mode != "120000" && !p.ends_with(".bin"))
            .filter(|(p, _)| p.starts_with(prefix) && p[prefix.len()..].starts_with('/'))
            .map(|(p, _)| p.clone())
            .collect();
        let roll = self.rng.below(100);
        match roll {
            _ if texts.len() < 4 || roll < 12 => {
                let path = self.new_path(prefix, "rs");
                let lines = 1 + self.rng.below(40);
                let data = self.text(lines);
                tree.insert(
                    path,
                    Entry {
                        mode: "100644",
                        data,
                    },
                );
            }
            12..=17 => {
                // A rename: same content, new path.
                let from = texts[self.rng.below(texts.len())].clone();
                if let Some(e) = tree.remove(&from) {
                    let to = self.new_path(prefix, "rs");
                    tree.insert(to, e);
                }
            }
            18..=21 => {
                let victim = texts[self.rng.below(texts.len())].clone();
                tree.remove(&victim);
            }
            22..=26 => {
                let path = if self.rng.chance(50) {
                    self.new_path(prefix, "bin")
                } else {
                    tree.keys()
                        .find(|p| p.ends_with(".bin") && p.starts_with(prefix))
                        .cloned()
                        .unwrap_or_else(|| format!("{prefix}/assets/logo{n}.bin"))
                };
                let data = self.binary();
                tree.insert(
                    path,
                    Entry {
                        mode: "100644",
                        data,
                    },
                );
            }
            27..=30 => {
                let lock = tree
                    .get("Cargo.lock")
                    .map(|e| e.data.clone())
                    .unwrap_or_default();
                let more = 1 + self.rng.below(30);
                let mut data = lock;
                data.extend(self.text(more));
                tree.insert(
                    "Cargo.lock".to_owned(),
                    Entry {
                        mode: "100644",
                        data,
                    },
                );
            }
            31 if prefix == "src" => {
                // An executable-bit flip with the same content: numstat 0/0.
                let p = texts[self.rng.below(texts.len())].clone();
                if let Some(e) = tree.get_mut(&p) {
                    e.mode = if e.mode == "100755" {
                        "100644"
                    } else {
                        "100755"
                    };
                }
            }
            _ => {
                for _ in 0..1 + self.rng.below(3) {
                    let p = texts[self.rng.below(texts.len())].clone();
                    if let Some(e) = tree.get(&p) {
                        let data = self.edit(&e.data);
                        let mode = e.mode;
                        tree.insert(p, Entry { mode, data });
                    }
                }
            }
        }
    }

    fn who(&mut self) -> (&'static str, &'static str) {
        PEOPLE[self.rng.below(PEOPLE.len())]
    }

    /// Writes a commit on `branch` with `tree` (as a change from `before`), returning its mark.
    fn commit(
        &mut self,
        branch: &str,
        parents: &[u64],
        before: &Tree,
        tree: &Tree,
        message: &str,
    ) -> io::Result<u64> {
        let mut ops = Vec::new();
        for (path, e) in tree {
            if before.get(path) == Some(e) {
                continue;
            }
            if e.mode == "160000" {
                ops.push(format!(
                    "M 160000 {} {path}\n",
                    String::from_utf8_lossy(&e.data)
                ));
                continue;
            }
            self.mark += 1;
            write!(
                self.out,
                "blob\nmark :{}\ndata {}\n",
                self.mark,
                e.data.len()
            )?;
            self.out.write_all(&e.data)?;
            self.out.write_all(b"\n")?;
            ops.push(format!("M {} :{} {path}\n", e.mode, self.mark));
        }
        for path in before.keys() {
            if !tree.contains_key(path) {
                ops.push(format!("D {path}\n"));
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
        for op in ops {
            self.out.write_all(op.as_bytes())?;
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
    let mut main = Tree::new();
    // The root commit: a few files, one without a final newline, one empty.
    for i in 0..6 {
        let lines = 5 + g.rng.below(30);
        main.insert(
            format!("src/m{i}/root{i}.rs"),
            Entry {
                mode: "100644",
                data: g.text(lines),
            },
        );
    }
    main.insert(
        "README".to_owned(),
        Entry {
            mode: "100644",
            data: b"no newline at the end".to_vec(),
        },
    );
    main.insert(
        "src/empty.rs".to_owned(),
        Entry {
            mode: "100644",
            data: Vec::new(),
        },
    );
    let mut tip = g.commit("main", &[], &Tree::new(), &main, "root commit")?;

    let mut n = 1;
    let mut bumped = false;
    while n < opts.commits {
        let before = main.clone();
        if n >= 3 && !main.contains_key(".mailmap") {
            main.insert(
                ".mailmap".to_owned(),
                Entry {
                    mode: "100644",
                    data: MAILMAP.as_bytes().to_vec(),
                },
            );
            main.insert(
                "docs/current".to_owned(),
                Entry {
                    mode: "120000",
                    data: b"../README".to_vec(),
                },
            );
            main.insert(
                "vendor/lib".to_owned(),
                Entry {
                    mode: "160000",
                    data: format!("{:040x}", opts.seed.wrapping_add(1)).into_bytes(),
                },
            );
        } else if n >= 7 && !bumped && main.contains_key("vendor/lib") {
            bumped = true;
            main.insert(
                "vendor/lib".to_owned(),
                Entry {
                    mode: "160000",
                    data: format!("{:040x}", opts.seed.wrapping_add(2)).into_bytes(),
                },
            );
        } else {
            g.change(&mut main, "src", n);
        }
        // About one commit in ten is a merge of a short topic branch that ran alongside.
        if n + 4 < opts.commits && g.rng.chance(10) {
            let fork = tip;
            let topic_dir = format!("topic{n}");
            let mut topic = main.clone();
            let mut topic_tip = fork;
            let mut topic_before = before.clone();
            let branch = format!("topic/{n}");
            let len = 1 + g.rng.below(2);
            for k in 0..len {
                let prev = topic.clone();
                g.change(&mut topic, &topic_dir, n);
                if k == 0 {
                    // The first topic commit also carries the main-line change above.
                    topic_tip = g.commit(
                        &branch,
                        &[topic_tip],
                        &topic_before,
                        &topic,
                        &format!("topic {n}.{k}"),
                    )?;
                } else {
                    topic_tip = g.commit(
                        &branch,
                        &[topic_tip],
                        &prev,
                        &topic,
                        &format!("topic {n}.{k}"),
                    )?;
                }
                topic_before = topic.clone();
                n += 1;
            }
            // The main line moves on meanwhile, touching only its own new files.
            let main_before = before.clone();
            let mut side = before.clone();
            let path = g.new_path("mainline", "rs");
            let data = g.text(3);
            side.insert(
                path.clone(),
                Entry {
                    mode: "100644",
                    data: data.clone(),
                },
            );
            tip = g.commit("main", &[fork], &main_before, &side, &format!("main {n}"))?;
            n += 1;
            let mut merged = topic.clone();
            merged.insert(
                path,
                Entry {
                    mode: "100644",
                    data,
                },
            );
            tip = g.commit(
                "main",
                &[tip, topic_tip],
                &side,
                &merged,
                &format!("Merge branch 'topic/{n}'"),
            )?;
            n += 1;
            main = merged;
            continue;
        }
        tip = g.commit("main", &[tip], &before, &main, &format!("change {n}"))?;
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
