//! Tidy checks of the repository itself, run as ordinary tests: they keep the shape that
//! ARCHITECTURE.md describes (dependency directions, no import circles, limits in one place,
//! bounded file and function sizes).

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};
    use std::path::{Path, PathBuf};

    /// Non-test source files may not grow beyond this many lines.
    const FILE_LINES_MAX: usize = 600;
    /// A function longer than this is listed (and counted against the ceiling below).
    const FUNCTION_LINES_LISTED: usize = 70;
    /// How many functions may be longer than `FUNCTION_LINES_LISTED`. May only go down.
    const LONG_FUNCTIONS_MAX: usize = 14;

    fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap().map(Result::unwrap) {
            let path = entry.path();
            if path.is_dir() {
                rust_files(&path, out);
            } else if path.extension().is_some_and(|ext| ext == "rs") {
                out.push(path);
            }
        }
    }

    fn root() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .unwrap()
            .to_path_buf()
    }

    fn crates() -> Vec<(String, PathBuf)> {
        let mut crates: Vec<(String, PathBuf)> = std::fs::read_dir(root().join("crates"))
            .unwrap()
            .map(Result::unwrap)
            .map(|entry| (entry.file_name().into_string().unwrap(), entry.path()))
            .collect();
        crates.sort();
        crates
    }

    /// Source files that are not tests (unit-test files, integration tests, test support).
    fn production_files() -> Vec<PathBuf> {
        let mut files = Vec::new();
        for (name, path) in crates() {
            if name == "test_support" || name == "bench" {
                continue;
            }
            rust_files(&path.join("src"), &mut files);
        }
        files.retain(|file| {
            let text = file.to_string_lossy();
            !text.ends_with("/tests.rs") && !text.contains("/tests/")
        });
        files
    }

    /// The `[dependencies]` section of a crate's manifest (not dev-dependencies).
    fn dependencies(crate_dir: &Path) -> BTreeSet<String> {
        let manifest = std::fs::read_to_string(crate_dir.join("Cargo.toml")).unwrap();
        let mut in_dependencies = false;
        let mut names = BTreeSet::new();
        for line in manifest.lines() {
            let line = line.trim();
            if line.starts_with('[') {
                in_dependencies = line == "[dependencies]";
                continue;
            }
            if in_dependencies
                && let Some((name, _)) = line.split_once(['=', '.'])
                && !name.trim().is_empty()
            {
                names.insert(name.trim().to_owned());
            }
        }
        names
    }

    #[test]
    fn every_rust_file_starts_with_a_doc_line() {
        // Readers find their way by the first line of each file (ARCHITECTURE.md).
        let mut files = Vec::new();
        rust_files(&root().join("crates"), &mut files);
        rust_files(&root().join("xtask"), &mut files);
        let missing: Vec<_> = files
            .iter()
            .filter(|file| !std::fs::read_to_string(file).unwrap().starts_with("//!"))
            .collect();
        assert!(
            missing.is_empty(),
            "files without a leading //! line: {missing:?}"
        );
    }

    #[test]
    fn only_the_store_crate_speaks_sql() {
        // Dependency direction is an architecture invariant: SQL stays inside `store`.
        for (name, path) in crates() {
            if name != "store" {
                assert!(
                    !dependencies(&path).contains("sqlx"),
                    "crate {name} depends on sqlx"
                );
            }
        }
    }

    #[test]
    fn the_domain_and_use_cases_know_nothing_of_http_and_the_pure_crates_no_io() {
        let forbidden: [(&str, &[&str]); 4] = [
            ("app", &["axum", "http", "hyper"]),
            ("crypto", &["axum", "http", "hyper"]),
            ("identity", &["axum", "http", "hyper", "tokio", "sqlx"]),
            ("ledger", &["axum", "http", "hyper", "tokio", "sqlx"]),
        ];
        for (name, banned) in forbidden {
            let dependencies = dependencies(&root().join("crates").join(name));
            for dependency in banned {
                assert!(
                    !dependencies.contains(*dependency),
                    "crate {name} depends on {dependency}"
                );
            }
        }
    }

    #[test]
    fn no_source_file_is_too_long() {
        let long: Vec<String> = production_files()
            .into_iter()
            .filter_map(|file| {
                let lines = std::fs::read_to_string(&file).unwrap().lines().count();
                (lines > FILE_LINES_MAX).then(|| format!("{} ({lines})", file.display()))
            })
            .collect();
        assert!(
            long.is_empty(),
            "files over {FILE_LINES_MAX} lines: {long:?}"
        );
    }

    /// `(name, lines)` of every function in `text` (a function runs from its `fn` line to
    /// the closing brace at its indentation).
    fn functions(text: &str) -> Vec<(String, usize)> {
        let lines: Vec<&str> = text.lines().collect();
        let mut found = Vec::new();
        for (start, line) in lines.iter().enumerate() {
            let trimmed = line.trim_start();
            let indent = line.len() - trimmed.len();
            let signature = [
                "fn ",
                "pub fn ",
                "pub(crate) fn ",
                "async fn ",
                "pub async fn ",
                "pub(crate) async fn ",
            ]
            .iter()
            .find_map(|prefix| trimmed.strip_prefix(prefix));
            let Some(rest) = signature else { continue };
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            let closing = " ".repeat(indent) + "}";
            if let Some(end) = lines[start..].iter().position(|l| *l == closing) {
                found.push((name, end + 1));
            }
        }
        found
    }

    #[test]
    fn long_functions_are_listed_and_their_number_only_goes_down() {
        let mut long = Vec::new();
        for file in production_files() {
            let text = std::fs::read_to_string(&file).unwrap();
            for (name, lines) in functions(&text) {
                if lines > FUNCTION_LINES_LISTED {
                    long.push(format!("{}::{name} ({lines} lines)", file.display()));
                }
            }
        }
        println!(
            "functions over {FUNCTION_LINES_LISTED} lines:\n{}",
            long.join("\n")
        );
        assert!(
            long.len() <= LONG_FUNCTIONS_MAX,
            "{} functions over {FUNCTION_LINES_LISTED} lines (ceiling {LONG_FUNCTIONS_MAX}): {long:#?}",
            long.len()
        );
    }

    #[test]
    fn bounds_named_max_live_in_limits_files() {
        // Every `..._MAX` bound is a named constant in its crate's `limits.rs`.
        let mut strays = Vec::new();
        for file in production_files() {
            if file.ends_with("limits.rs") {
                continue;
            }
            let text = std::fs::read_to_string(&file).unwrap();
            for line in text.lines() {
                let trimmed = line.trim_start();
                let declared = ["const ", "pub const ", "pub(crate) const "]
                    .iter()
                    .find_map(|prefix| trimmed.strip_prefix(prefix));
                if let Some(rest) = declared
                    && rest
                        .split(':')
                        .next()
                        .is_some_and(|name| name.ends_with("_MAX"))
                    && line.len() == trimmed.len()
                {
                    strays.push(format!("{}: {trimmed}", file.display()));
                }
            }
        }
        assert!(strays.is_empty(), "bounds outside limits.rs: {strays:#?}");
    }

    /// The module path of a source file inside its crate (`routes::auth`, `` for the root).
    fn module_path(src: &Path, file: &Path) -> String {
        let relative = file.strip_prefix(src).unwrap().with_extension("");
        let mut parts: Vec<String> = relative
            .components()
            .map(|part| part.as_os_str().to_string_lossy().into_owned())
            .collect();
        if matches!(
            parts.last().map(String::as_str),
            Some("mod" | "lib" | "main")
        ) {
            parts.pop();
        }
        parts.join("::")
    }

    #[test]
    fn no_import_circles_between_files_of_a_crate() {
        // A file may use its ancestors (the modules that declare it); beyond that, the graph
        // of `crate::` references between files has no cycle.
        for (name, path) in crates() {
            let src = path.join("src");
            if !src.is_dir() {
                continue;
            }
            let mut files = Vec::new();
            rust_files(&src, &mut files);
            files.retain(|file| !file.to_string_lossy().ends_with("/tests.rs"));
            let modules: BTreeSet<String> =
                files.iter().map(|file| module_path(&src, file)).collect();
            let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
            for file in &files {
                let from = module_path(&src, file);
                let text = std::fs::read_to_string(file).unwrap();
                let text = text.split("#[cfg(test)]").next().unwrap_or_default();
                for reference in text.split("crate::").skip(1) {
                    let path: String = reference
                        .chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
                        .collect();
                    let segments: Vec<&str> = path.split("::").filter(|s| !s.is_empty()).collect();
                    let target = (1..=segments.len())
                        .rev()
                        .map(|len| segments[..len].join("::"))
                        .find(|candidate| modules.contains(candidate));
                    let Some(target) = target else { continue };
                    let ancestor = from == target
                        || target.is_empty()
                        || from.starts_with(&format!("{target}::"));
                    if !ancestor {
                        edges.entry(from.clone()).or_default().insert(target);
                    }
                }
            }
            // Depth-first search for a cycle.
            fn visit(
                node: &str,
                edges: &BTreeMap<String, BTreeSet<String>>,
                path: &mut Vec<String>,
                done: &mut BTreeSet<String>,
            ) -> Option<Vec<String>> {
                if let Some(position) = path.iter().position(|seen| seen == node) {
                    let mut cycle = path[position..].to_vec();
                    cycle.push(node.to_owned());
                    return Some(cycle);
                }
                if done.contains(node) {
                    return None;
                }
                path.push(node.to_owned());
                for next in edges.get(node).into_iter().flatten() {
                    if let Some(cycle) = visit(next, edges, path, done) {
                        return Some(cycle);
                    }
                }
                path.pop();
                done.insert(node.to_owned());
                None
            }
            let mut done = BTreeSet::new();
            for module in &modules {
                let cycle = visit(module, &edges, &mut Vec::new(), &mut done);
                assert!(cycle.is_none(), "crate {name}: import circle {cycle:?}");
            }
        }
    }
}
