//! The services form a one-way graph: a module may name only modules below
//! it. Read from the source, so a new `use crate::…` upward fails here.

use std::collections::BTreeSet;
use std::path::Path;

/// Highest first; each may use the ones after it, never the ones before.
const LAYERS: &[&str] = &[
    "cli",
    "app",
    "http",
    "reports",
    "jobs",
    "demo",
    "email",
    "intake",
    "tickets",
    "sla",
    "routing",
    "attachments",
    "directory",
    "auth",
    "metrics",
    "db",
    "clock",
    "domain",
];

/// Modules every layer may use: configuration, errors and telemetry.
const SHARED: &[&str] = &["config", "error", "telemetry", "mailgate"];

/// `db`'s exported macros (`crate::insert_rows!` and its kin),
/// which sit at the crate's root.
const DB_MACROS: &[&str] = &[
    "insert_rows",
    "insert_rows_together",
    "by_row_count",
    "insert_ignoring_conflicts",
    "upsert_rows",
];

fn sources(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The `crate::name` modules a module's files mention.
fn used_by(module: &str) -> BTreeSet<String> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    if src.join(module).is_dir() {
        sources(&src.join(module), &mut files);
    }
    let single = src.join(format!("{module}.rs"));
    if single.exists() {
        files.push(single);
    }
    assert!(!files.is_empty(), "no sources for module {module}");
    let mut used = BTreeSet::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for (at, _) in text.match_indices("crate::") {
            let rest = &text[at + "crate::".len()..];
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() && name != module {
                used.insert(name);
            }
        }
    }
    used
}

#[test]
fn no_module_uses_one_above_it() {
    let mut upward = Vec::new();
    for (rank, module) in LAYERS.iter().enumerate() {
        for used in used_by(module) {
            if SHARED.contains(&used.as_str()) || DB_MACROS.contains(&used.as_str()) {
                continue;
            }
            match LAYERS.iter().position(|m| *m == used) {
                Some(used_rank) if used_rank > rank => {}
                Some(_) => upward.push(format!("{module} -> {used}")),
                None => upward.push(format!("{module} -> {used} (a module not in LAYERS)")),
            }
        }
    }
    assert!(upward.is_empty(), "upward or unknown uses: {upward:#?}");
}
