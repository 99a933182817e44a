//! The README as a newcomer follows it: what `cargo run` prints is what the README shows, and
//! each printed command works; every test file is named in the architecture notes; every
//! relative link in the README and `docs/` leads somewhere; the toolchain the README names is
//! the one `Cargo.toml` declares. These are the parts of the documentation that drift silently
//! when code changes, so each is checked against the code rather than by reading.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::support::binary;

use binary::{start, terminate};

/// The address `cargo run` listens on by default, as the README shows it.
const DEFAULT_BASE: &str = "http://127.0.0.1:8080";

fn repo_file(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

fn read(relative: &str) -> String {
    std::fs::read_to_string(repo_file(relative))
        .unwrap_or_else(|error| panic!("reading {relative}: {error}"))
}

/// The commands printed after `try:`, without their two-space indent.
fn try_me_lines(printed: &[String]) -> Vec<String> {
    let start = printed
        .iter()
        .position(|line| line == "try:")
        .unwrap_or_else(|| panic!("no 'try:' line in {printed:#?}"));
    printed[start + 1..]
        .iter()
        .map(|line| {
            line.strip_prefix("  ")
                .unwrap_or_else(|| panic!("not indented: {line:?}"))
                .to_owned()
        })
        .collect()
}

/// Shell commands, a line ending in `\` joined with the next as the shell would.
fn commands(lines: &[String]) -> Vec<String> {
    let mut commands = Vec::new();
    let mut current = String::new();
    for line in lines {
        current.push_str(line);
        if line.ends_with('\\') {
            current.push('\n');
        } else {
            commands.push(std::mem::take(&mut current));
        }
    }
    assert!(current.is_empty(), "a continuation line ends the list");
    commands
}

/// Runs one printed `curl` command as a shell would, and returns the HTTP status it got.
async fn run_curl(command: &str) -> u16 {
    let rest = command
        .strip_prefix("curl ")
        .unwrap_or_else(|| panic!("not a curl command: {command}"));
    // The status only, and a failure for a connection that gets no answer.
    let script = format!("curl -sS -o /dev/null -w '%{{http_code}}' {rest}");
    let output = tokio::process::Command::new("sh")
        .args(["-c", &script])
        .output()
        .await
        .expect("sh runs (curl must be installed for this test)");
    assert!(
        output.status.success(),
        "{command}\nfailed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .parse()
        .unwrap_or_else(|_| panic!("{command}\nprinted no status: {output:?}"))
}

#[tokio::test]
async fn cargo_run_prints_the_readme_commands_and_each_works() {
    let (child, base, printed) = start(&["--listen", "127.0.0.1:0"], &[], "/healthz").await;
    let lines = try_me_lines(&printed);

    let as_in_readme = lines
        .iter()
        .map(|line| line.replace(&base, DEFAULT_BASE))
        .collect::<Vec<_>>()
        .join("\n");
    let block = format!("```sh\n{as_in_readme}\n```\n");
    assert!(
        read("README.md").contains(&block),
        "README.md must show exactly what `cargo run` prints, as a sh block:\n{block}"
    );

    let commands = commands(&lines);
    assert!(
        commands.iter().any(|c| c.contains("-X PUT")),
        "a write is among the commands to try: {commands:#?}"
    );
    for command in &commands {
        let status = run_curl(command).await;
        assert!((200..300).contains(&status), "{command}\nanswered {status}");
    }
    let (exited_cleanly, log) = terminate(child).await;
    assert!(exited_cleanly, "{log}");
}

#[tokio::test]
async fn in_front_of_a_real_server_only_reads_are_suggested() {
    // Nothing listens on port 1: the gateway starts all the same and prints its suggestions.
    let (child, _, printed) = start(
        &[
            "--listen",
            "127.0.0.1:0",
            "--upstream",
            "http://127.0.0.1:1",
        ],
        &[],
        "/healthz",
    )
    .await;
    let lines = try_me_lines(&printed).join("\n");
    assert!(!lines.contains("-X"), "only GETs: {lines}");
    assert!(
        !lines.contains("admin:password"),
        "the simulator's credentials mean nothing to a real server: {lines}"
    );
    assert!(lines.contains("/vmrest/portgroups"), "{lines}");
    terminate(child).await;
}

/// The `tests/...` names in the architecture notes' "Test files" section.
fn named_test_files() -> BTreeSet<String> {
    let doc = read("docs/architecture.md");
    let section = doc
        .split("\n## Test files\n")
        .nth(1)
        .expect("docs/architecture.md has a '## Test files' section");
    let section = section.split("\n## ").next().unwrap();
    section
        .split('`')
        .skip(1)
        .step_by(2)
        .filter_map(|code| code.strip_prefix("tests/"))
        .map(str::to_owned)
        .collect()
}

#[test]
fn every_test_file_is_named_in_the_architecture_notes() {
    let named = named_test_files();
    // The test binary's modules (tests/integration/*.rs, its support/ harness), the test
    // binaries of their own beside it (tests/*.rs), and the directories of scripts.
    let mut on_disk = BTreeSet::new();
    for entry in std::fs::read_dir(repo_file("tests")).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().into_string().unwrap();
        if entry.file_type().unwrap().is_dir() && name != "integration" {
            on_disk.insert(format!("{name}/"));
        } else if name.ends_with(".rs") {
            on_disk.insert(name);
        }
    }
    for entry in std::fs::read_dir(repo_file("tests/integration")).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().into_string().unwrap();
        if entry.file_type().unwrap().is_dir() {
            on_disk.insert(format!("integration/{name}/"));
        } else if name.ends_with(".rs") && name != "main.rs" {
            on_disk.insert(format!("integration/{name}"));
        }
    }
    let unnamed: Vec<_> = on_disk.difference(&named).collect();
    assert!(
        unnamed.is_empty(),
        "name these in docs/architecture.md, '## Test files', as `tests/NAME`: {unnamed:?}"
    );
    let gone: Vec<_> = named
        .iter()
        .filter(|name| !repo_file("tests").join(name).exists())
        .collect();
    assert!(
        gone.is_empty(),
        "docs/architecture.md names test files that do not exist: {gone:?}"
    );
}

/// GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens.
fn anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_'))
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

/// The text outside fenced code blocks, where Markdown links and headings live.
fn prose(markdown: &str) -> Vec<&str> {
    let mut in_fence = false;
    markdown
        .lines()
        .filter(|line| {
            if line.trim_start().starts_with("```") {
                in_fence = !in_fence;
                return false;
            }
            !in_fence
        })
        .collect()
}

/// Every heading's anchor, and every explicit `<a id="…">` (kept where a heading was renamed,
/// so old links still land).
fn anchors(markdown: &str) -> BTreeSet<String> {
    let lines = prose(markdown);
    let headings = lines
        .iter()
        .filter_map(|line| line.strip_prefix('#'))
        .map(|heading| anchor(heading.trim_start_matches('#')));
    let explicit = lines.iter().flat_map(|line| {
        line.split("<a id=\"")
            .skip(1)
            .filter_map(|rest| rest.split_once('"').map(|(id, _)| id.to_owned()))
    });
    headings.chain(explicit).collect()
}

/// The targets of `[text](target)` and `![alt](target)` links.
fn link_targets(markdown: &str) -> Vec<String> {
    let mut targets = Vec::new();
    for line in prose(markdown) {
        let mut rest = line;
        while let Some(at) = rest.find("](") {
            rest = &rest[at + 2..];
            if let Some(end) = rest.find(')') {
                targets.push(rest[..end].to_owned());
                rest = &rest[end..];
            }
        }
    }
    targets
}

fn markdown_files() -> Vec<String> {
    let mut files = vec!["README.md".to_owned()];
    for entry in std::fs::read_dir(repo_file("docs")).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if name.ends_with(".md") {
            files.push(format!("docs/{name}"));
        }
    }
    files
}

#[test]
fn every_relative_link_in_the_readme_and_docs_resolves() {
    let mut broken = Vec::new();
    let mut checked = 0;
    for file in markdown_files() {
        let text = read(&file);
        let dir = Path::new(&file).parent().unwrap().to_owned();
        for target in link_targets(&text) {
            if target.contains("://") || target.starts_with("mailto:") {
                continue;
            }
            checked += 1;
            let (path, fragment) = match target.split_once('#') {
                Some((path, fragment)) => (path, Some(fragment)),
                None => (target.as_str(), None),
            };
            let linked = if path.is_empty() {
                file.clone()
            } else {
                dir.join(path).to_string_lossy().into_owned()
            };
            if !repo_file(&linked).exists() {
                broken.push(format!("{file}: {target} (no {linked})"));
                continue;
            }
            if let Some(fragment) = fragment {
                if linked.ends_with(".md") && !anchors(&read(&linked)).contains(fragment) {
                    broken.push(format!("{file}: {target} (no such heading in {linked})"));
                }
            }
        }
    }
    assert!(checked > 10, "the link parser found only {checked} links");
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

#[test]
fn the_readme_names_the_toolchain_cargo_toml_declares() {
    let manifest = read("Cargo.toml");
    let version = manifest
        .lines()
        .find_map(|line| line.strip_prefix("rust-version = "))
        .expect("Cargo.toml declares rust-version")
        .trim_matches('"');
    let named = format!("Rust {version}");
    assert!(
        read("README.md").contains(&named),
        "README.md's prerequisites must say '{named}', the rust-version of Cargo.toml"
    );
}
