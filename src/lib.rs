//! libsoftrwlock: a reader/writer lock for processes on many hosts that share a network
//! filesystem. See README.md and docs/PROTOCOL.md.
//!
//! Layout, one owner for each piece of knowledge:
//!
//! | module      | owns |
//! |-------------|------|
//! | `ffi`       | the C ABI: the only `extern "C"` |
//! | `admin`     | for tools (the CLI): `inspect` (a lock's state as a typed snapshot), path and host-name rules |
//! | `lock`      | the handle: nesting, threads, fork and hold bookkeeping (`Lock`) |
//! | `protocol`  | srwl/2 on disk, one submodule per part: `layout`, `open`, `queue`, `room`, `baton`, `reader`, `writer`, `eviction`, `waiting` (see its doc) |
//! | `record`    | entry names and record bytes: building and bounded parsing |
//! | `fs`        | the only raw syscalls (openat and friends, getdents64, inotify, eventfd, poll) |
//! | `fstype`    | which filesystem a lock is on (mountinfo), and the refusal of those that cannot keep exclusion |
//! | `heartbeat` | the one thread per process that keeps records fresh |
//! | `fork`      | atfork handlers |
//! | `inject`    | delay injection at protocol steps, for tests |
//! | `interrupt` | srwl_interrupt: a handle's pending flag, eventfd doorbell and interrupt descriptor |
//! | `options`   | `srwl_options`: defaults and validation |
//! | `status`    | status codes and errors |
//! | `liveness`  | same-host liveness of a record's process, for dropping dead waiters' places |
//! | `data`      | the user's own file made coherent for one hold (`srwl_data_begin`/`end`) |

pub mod admin;
pub mod data;
pub mod ffi;
pub mod fork;
pub mod fs;
pub mod fstype;
pub mod heartbeat;
pub mod inject;
pub mod interrupt;
pub mod liveness;
pub mod lock;
pub mod options;
pub mod protocol;
pub mod record;
pub mod status;

pub use lock::Lock;
pub use options::Options;
pub use protocol::Mode;
pub use record::Role;
pub use status::{Error, Status};

#[cfg(test)]
mod tests {
    use std::path::Path;

    fn layout_table() -> String {
        let readme =
            std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
                .expect("README.md is readable");
        let start = readme
            .find("## Layout\n")
            .expect("README has a Layout section");
        let rest = &readme[start..];
        let end = rest[1..].find("\n## ").map_or(rest.len(), |e| e + 1);
        rest[..end].to_string()
    }

    fn files_under(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
        for e in std::fs::read_dir(dir).expect("readable") {
            let p = e.expect("entry").path();
            if p.is_dir() {
                files_under(&p, out);
            } else {
                out.push(p);
            }
        }
    }

    /// The Layout table names every top-level directory and every file under src/ (by its
    /// path, or by its name in the row of its directory).
    #[test]
    fn readme_layout_names_every_directory_and_source_file() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let table = layout_table();
        let mut missing = Vec::new();
        for e in std::fs::read_dir(root).expect("readable") {
            let p = e.expect("entry").path();
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            let listed = !p.is_dir()
                || name.starts_with('.')
                || matches!(name.as_str(), "target" | "build")
                || table.contains(&format!("`{name}/"));
            if !listed {
                missing.push(format!("{name}/"));
            }
        }
        let mut files = Vec::new();
        files_under(&root.join("src"), &mut files);
        for f in files {
            let rel = f.strip_prefix(root).unwrap().to_string_lossy().into_owned();
            let dir = f
                .parent()
                .unwrap()
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy();
            let name = f.file_name().unwrap().to_string_lossy();
            let named_in_dir_row = table
                .lines()
                .any(|l| l.contains(&format!("`{dir}/`")) && l.contains(&format!("`{name}`")));
            if !table.contains(&format!("`{rel}`")) && !named_in_dir_row {
                missing.push(rel);
            }
        }
        assert!(
            missing.is_empty(),
            "README's Layout table does not name: {missing:?}"
        );
    }
}
