//! The error messages README.md quotes are the library's own: each is produced here on real
//! files and compared with README's text (the quoted path replaced by the test's).

mod common;
use common::*;
use softrwlock::Status;

/// README's text between two markers, with line breaks and the indentation folded to spaces.
fn readme_quote(start: &str, end: &str) -> String {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("README.md");
    let folded = readme.split_whitespace().collect::<Vec<_>>().join(" ");
    let from = folded
        .find(start)
        .unwrap_or_else(|| panic!("README.md no longer quotes a message starting {start:?}"));
    let rest = &folded[from..];
    let to = rest
        .find(end)
        .unwrap_or_else(|| panic!("README.md's quote lacks {end:?}"));
    rest[..to + end.len()].to_string()
}

#[test]
fn the_symlinked_sidecar_message_is_the_one_readme_quotes() {
    let dir = TempDir::new("readme-msg");
    let real = dir.0.join("elsewhere");
    std::fs::create_dir(&real).unwrap();
    std::os::unix::fs::symlink(&real, dir.0.join("data.lock.srwl")).unwrap();
    let lock = dir.0.join("data.lock");
    let e = softrwlock::Lock::open(lock.as_os_str().as_encoded_bytes(), &fast()).unwrap_err();
    assert_eq!(e.status, Status::SRWL_EUNSAFE);
    let quoted = readme_quote(
        "`open sidecar directory /scratch/run/data.lock.srwl",
        "refusing to follow it`",
    );
    let quoted = quoted.trim_matches('`').replace(
        "/scratch/run/data.lock.srwl",
        &format!("{}.srwl", lock.display()),
    );
    assert_eq!(
        e.message, quoted,
        "README.md quotes another message than the library gives"
    );
}
