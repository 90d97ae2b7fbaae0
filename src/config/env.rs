//! Loading: built-in defaults → the file (with `--set KEY=VALUE`
//! overrides) → environment variables. Nothing else in the bridge reads the
//! environment.

use std::path::{Path, PathBuf};

use super::{ConfigError, LogFormat, Secret, Settings, err};

impl Settings {
    /// Loads `path`, or `config.toml` in the working directory when `path`
    /// is `None` (built-in defaults when that file does not exist), then
    /// applies the environment overrides read through `env`, then validates.
    pub fn load(
        path: Option<&Path>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Settings, ConfigError> {
        Self::load_with(path, env, &[])
    }

    /// `load`, with `KEY=VALUE` overrides (`maintenance.page=true`) applied
    /// to the file before it is read; a value is TOML (`true`, `5`,
    /// `"text"`), or else taken as a string.
    pub fn load_with(
        path: Option<&Path>,
        env: impl Fn(&str) -> Option<String>,
        sets: &[String],
    ) -> Result<Settings, ConfigError> {
        let path = path.or_else(|| {
            let default = Path::new("config.toml");
            default.exists().then_some(default)
        });
        let mut settings = match path {
            Some(p) if sets.is_empty() => Self::from_file(p)?,
            Some(p) => {
                let text = std::fs::read_to_string(p)
                    .map_err(|e| ConfigError(format!("cannot read {}: {e}", p.display())))?;
                let table: toml::Table = toml::from_str(&text).map_err(|e| {
                    ConfigError(format!("{}: {}", p.display(), e.to_string().trim_end()))
                })?;
                Self::from_table(table, sets)?
            }
            None if sets.is_empty() => Settings::default(),
            None => Self::from_table(toml::Table::new(), sets)?,
        };
        settings.apply_env(env)?;
        settings.validate()?;
        Ok(settings)
    }

    fn from_table(mut table: toml::Table, sets: &[String]) -> Result<Settings, ConfigError> {
        for set in sets {
            let (key, value) = set
                .split_once('=')
                .ok_or_else(|| err(set, "an override is KEY=VALUE, e.g. maintenance.page=true"))?;
            let value = toml::from_str::<toml::Table>(&format!("v = {value}"))
                .ok()
                .and_then(|mut t| t.remove("v"))
                .unwrap_or_else(|| toml::Value::String(value.to_owned()));
            let parts: Vec<&str> = key.trim().split('.').collect();
            let (last, parents) = parts.split_last().expect("split yields one part");
            let mut cur = &mut table;
            for p in parents {
                cur = cur
                    .entry(p.to_string())
                    .or_insert_with(|| toml::Value::Table(toml::Table::new()))
                    .as_table_mut()
                    .ok_or_else(|| err(key, format!("{p} is not a table")))?;
            }
            cur.insert(last.to_string(), value);
        }
        serde_path_to_error::deserialize(toml::Value::Table(table)).map_err(refused)
    }

    pub fn from_file(path: &Path) -> Result<Settings, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError(format!("cannot read {}: {e}", path.display())))?;
        Self::from_toml(&text).map_err(|e| ConfigError(format!("{}: {}", path.display(), e.0)))
    }

    pub fn from_toml(text: &str) -> Result<Settings, ConfigError> {
        let doc = toml::Deserializer::parse(text)
            .map_err(|e| ConfigError(e.to_string().trim_end().to_owned()))?;
        serde_path_to_error::deserialize(doc).map_err(refused)
    }

    pub(super) fn apply_env(
        &mut self,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<(), ConfigError> {
        if let Some(v) = env("ITOC360_TOKEN") {
            self.itoc360.token = Secret::new(v);
        }
        if let Some(v) = env("ITOC360_BASE_URL") {
            self.itoc360.base_url = v;
        }
        if let Some(v) = env("BRIDGE_LISTEN") {
            self.server.listen = v;
        }
        if let Some(v) = env("BRIDGE_DATABASE") {
            self.database.path = PathBuf::from(v);
        }
        if let Some(v) = env("BRIDGE_DATABASE_URL") {
            self.database.url = Secret::new(v);
        }
        if let Some(v) = env("BRIDGE_LOG_FORMAT") {
            self.log.format = LogFormat::parse(&v).map_err(|e| err("BRIDGE_LOG_FORMAT", e))?;
        }
        for route in &mut self.routing.routes {
            if let Some(v) = env(&route.token_variable()) {
                route.token = Secret::new(v);
            }
        }
        Ok(())
    }
}

/// A value the file holds that does not deserialize, with its key's path
/// (`routes[0].min_priority`) before the parser's line and reason.
fn refused<E: std::fmt::Display>(e: serde_path_to_error::Error<E>) -> ConfigError {
    let path = e.path().to_string();
    let what = e.into_inner().to_string();
    let what = what.trim_end();
    if path == "." {
        ConfigError(what.to_owned())
    } else {
        ConfigError(format!("{path}: {what}"))
    }
}
