//! The Rhai experiment runtime. A script decides *what* runs (components, schedule,
//! evaluation); every per-step and per-example computation stays in Rust, since a Rhai
//! call costs about a microsecond.
mod api_analysis;
mod api_capfilt;
mod api_components;
mod api_config;
mod api_ctc;
mod api_data;
mod api_images;
mod api_log;
mod api_manifest;
mod api_module;
mod api_steps;
mod api_tensor;
mod api_train;
mod api_vq;
mod api_webdataset;
mod convert;
mod handles;
mod resolver;
mod session;

pub use session::{Session, Shared};

use rhai::{Engine, EvalAltResult, ParseError, AST};

use crate::error::Error;

/// Sandbox limits: enough for any experiment script, small enough to stop a runaway one.
#[derive(Debug, Clone)]
pub struct Limits {
    pub max_operations: u64,
    pub max_call_levels: usize,
    pub max_string_size: usize,
    pub max_array_size: usize,
    pub max_map_size: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_operations: 50_000_000,
            max_call_levels: 64,
            max_string_size: 1 << 20,
            max_array_size: 1 << 20,
            max_map_size: 1 << 16,
        }
    }
}

/// An engine with the plexus API bound to `session` and imports rooted at `import_roots`.
pub fn engine(session: Shared, import_roots: Vec<std::path::PathBuf>, limits: &Limits) -> Engine {
    let mut engine = Engine::new();
    engine
        .set_max_operations(limits.max_operations)
        .set_max_call_levels(limits.max_call_levels)
        .set_max_string_size(limits.max_string_size)
        .set_max_array_size(limits.max_array_size)
        .set_max_map_size(limits.max_map_size)
        .set_max_expr_depths(MAX_EXPR_DEPTHS.0, MAX_EXPR_DEPTHS.1)
        .set_module_resolver(resolver::RootedResolver::new(import_roots));
    engine.on_print(|text| println!("{text}"));
    engine.on_debug(|text, _, pos| tracing::debug!(target: "script", "{pos:?}: {text}"));
    api_analysis::register(&mut engine);
    api_config::register(&mut engine, &session);
    api_components::register(&mut engine, &session);
    api_data::register(&mut engine, &session);
    api_log::register(&mut engine, &session);
    api_train::register(&mut engine, &session);
    api_tensor::register(&mut engine, &session);
    api_steps::register(&mut engine, &session);
    api_module::register(&mut engine, &session);
    api_ctc::register(&mut engine, &session);
    api_capfilt::register(&mut engine, &session);
    api_vq::register(&mut engine, &session);
    api_images::register(&mut engine, &session);
    engine
}

/// Expression nesting allowed in scripts. Rhai's defaults are halved in debug builds (16
/// inside functions): too shallow for `f(#{ a: enc.encode(b.x) })` within a helper
/// function, and debug and release builds must accept the same scripts.
pub const MAX_EXPR_DEPTHS: (usize, usize) = (128, 64);

/// An engine for syntax checks only (no API bound), with the run engine's limits.
pub fn syntax_engine() -> Engine {
    let mut engine = Engine::new();
    engine.set_max_expr_depths(MAX_EXPR_DEPTHS.0, MAX_EXPR_DEPTHS.1);
    engine
}

/// Compiles a script, reporting syntax errors as `file:line:column: message`.
pub fn compile(engine: &Engine, file: &str, source: &str) -> Result<AST, Error> {
    engine.compile(source).map_err(|e| parse_error(file, e))
}

fn parse_error(file: &str, e: ParseError) -> Error {
    let pos = e.position();
    Error::Script(format!(
        "{file}:{}:{}: syntax error: {}",
        pos.line().unwrap_or(0),
        pos.position().unwrap_or(0),
        e.err_type()
    ))
}

/// Formats a runtime error as `file:line:column: message`.
pub fn runtime_error(file: &str, mut e: Box<EvalAltResult>, limits: &Limits) -> Error {
    let pos = e.take_position();
    let hint = match *e {
        EvalAltResult::ErrorTooManyOperations(_) => format!(
            " — the script ran more than {} operations (an endless loop?); raise `script_max_operations` in the config if it is legitimate",
            limits.max_operations
        ),
        EvalAltResult::ErrorStackOverflow(_) => format!(" — calls nested deeper than {} (unbounded recursion?)", limits.max_call_levels),
        _ => String::new(),
    };
    Error::Script(format!("{file}:{}:{}: {e}{hint}", pos.line().unwrap_or(0), pos.position().unwrap_or(0)))
}
