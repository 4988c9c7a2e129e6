//! Module imports for scripts, rooted at a few folders (the script's, the config's, and
//! `scripts/`): `import "lib/augment" as aug;` may not reach outside them.
use std::path::{Component, Path, PathBuf};

use rhai::module_resolvers::FileModuleResolver;
use rhai::{Engine, EvalAltResult, Module, ModuleResolver, Position, Shared};

pub struct RootedResolver {
    roots: Vec<PathBuf>,
}

impl RootedResolver {
    pub fn new(roots: Vec<PathBuf>) -> Self {
        Self { roots }
    }
}

fn refuse(path: &str, why: &str, pos: Position) -> Box<EvalAltResult> {
    EvalAltResult::ErrorInModule(path.to_string(), rhai::LexError::ImproperSymbol(path.into(), why.into()).into_err(pos).into(), pos)
        .into()
}

impl ModuleResolver for RootedResolver {
    fn resolve(&self, engine: &Engine, source: Option<&str>, path: &str, pos: Position) -> Result<Shared<Module>, Box<EvalAltResult>> {
        let relative = Path::new(path);
        if relative.is_absolute() || relative.components().any(|c| matches!(c, Component::ParentDir)) {
            return Err(refuse(path, "imports must be relative paths inside the script's folder, the config's folder or scripts/ (no `..`, no absolute paths)", pos));
        }
        for root in &self.roots {
            if root.join(format!("{path}.rhai")).is_file() {
                return FileModuleResolver::new_with_path(root).resolve(engine, source, path, pos);
            }
        }
        let searched: Vec<String> = self.roots.iter().map(|r| r.display().to_string()).collect();
        Err(refuse(path, &format!("module `{path}.rhai` not found in {}", searched.join(", ")), pos))
    }
}
