//! The log lines of this test process, for assertions on audit events (`audit: …` lines at
//! info level). One global subscriber per process: under nextest each test is its own process;
//! under `cargo test` tests share it, so assertions look for lines naming their own ids.

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

static BUFFER: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();

struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Starts capturing (idempotent).
pub fn capture() {
    BUFFER.get_or_init(|| {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let sink = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_max_level(tracing::Level::INFO)
            .with_writer(move || Capture(sink.clone()))
            .finish();
        let _ = tracing::subscriber::set_global_default(subscriber);
        buffer
    });
}

/// Every captured line containing all of `needles`.
pub fn lines_with(needles: &[&str]) -> Vec<String> {
    let Some(buffer) = BUFFER.get() else {
        return Vec::new();
    };
    let text = String::from_utf8_lossy(&buffer.lock().unwrap()).into_owned();
    text.lines()
        .filter(|l| needles.iter().all(|n| l.contains(n)))
        .map(str::to_owned)
        .collect()
}

/// Everything captured so far.
pub fn all() -> String {
    BUFFER.get().map_or_else(String::new, |b| {
        String::from_utf8_lossy(&b.lock().unwrap()).into_owned()
    })
}
