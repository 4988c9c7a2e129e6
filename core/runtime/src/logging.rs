//! Logging through tracing-subscriber: to the console (level from `-v` or `RUST_LOG`)
//! and, once a run folder exists, also to `<run>/plexus.log` at debug level.
use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::Mutex;

use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

static RUN_LOG: Mutex<Option<File>> = Mutex::new(None);

/// Writes to the run's log file when one is attached, else nowhere.
#[derive(Clone, Copy)]
struct RunLogWriter;

impl Write for RunLogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match RUN_LOG.lock().ok().as_mut().and_then(|g| g.as_mut()) {
            Some(f) => f.write(buf),
            None => Ok(buf.len()),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match RUN_LOG.lock().ok().as_mut().and_then(|g| g.as_mut()) {
            Some(f) => f.flush(),
            None => Ok(()),
        }
    }
}

impl<'a> MakeWriter<'a> for RunLogWriter {
    type Writer = RunLogWriter;
    fn make_writer(&'a self) -> Self::Writer {
        *self
    }
}

pub fn init(verbose: u8) {
    let default = match verbose {
        0 => "info",
        1 => "debug",
        _ => "trace",
    };
    let console = tracing_subscriber::fmt::layer()
        .with_target(false)
        .with_writer(std::io::stderr)
        .with_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default)));
    let file = tracing_subscriber::fmt::layer().with_ansi(false).with_writer(RunLogWriter).with_filter(EnvFilter::new("debug"));
    let _ = tracing_subscriber::registry().with(console).with(file).try_init();
}

/// Sends the log to `path` (appending, so a resumed run keeps its earlier lines).
pub fn attach_run_log(path: &Path) -> std::io::Result<()> {
    let file = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
    if let Ok(mut slot) = RUN_LOG.lock() {
        *slot = Some(file);
    }
    Ok(())
}
