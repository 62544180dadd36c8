//! `warden init`: a starter configuration, schema, policies and policy tests, with comments.

use std::path::Path;

use anyhow::{Context, Result, bail};

/// The files `warden init` writes, with their contents.
pub const FILES: &[(&str, &str)] = &[
    ("warden.toml", include_str!("../templates/warden.toml")),
    ("warden.cedarschema", warden_policy::STARTER_SCHEMA),
    ("policies.cedar", warden_policy::STARTER_POLICIES),
    (
        "policy-tests.toml",
        include_str!("../templates/policy-tests.toml"),
    ),
];

/// Writes the starter files into `dir`, refusing to overwrite any existing file.
pub fn write(dir: &Path) -> Result<Vec<String>> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create `{}`", dir.display()))?;
    for (name, _) in FILES {
        let path = dir.join(name);
        if path.exists() {
            bail!(
                "`{}` already exists; not overwriting anything",
                path.display()
            );
        }
    }
    let mut written = Vec::new();
    for (name, text) in FILES {
        let path = dir.join(name);
        std::fs::write(&path, text)
            .with_context(|| format!("cannot write `{}`", path.display()))?;
        written.push(path.display().to_string());
    }
    Ok(written)
}
