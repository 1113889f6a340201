//! Generates include/softrwlock.h with cbindgen. The header is committed; CI fails if a
//! build changes it (see .ci/run), and the build fails if cbindgen fails.

use std::env;
use std::path::PathBuf;

fn main() {
    let crate_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    println!("cargo:rerun-if-changed=src/ffi");
    println!("cargo:rerun-if-changed=src/status.rs");
    println!("cargo:rerun-if-changed=src/options.rs");
    println!("cargo:rerun-if-changed=cbindgen.toml");

    let mut config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml"))
        .expect("cbindgen.toml is readable");
    let major = env::var("CARGO_PKG_VERSION_MAJOR").unwrap();
    let minor = env::var("CARGO_PKG_VERSION_MINOR").unwrap();
    let patch = env::var("CARGO_PKG_VERSION_PATCH").unwrap();
    let version = env::var("CARGO_PKG_VERSION").unwrap();
    config.after_includes = Some(format!(
        "\n#define SRWL_VERSION_MAJOR {major}\n#define SRWL_VERSION_MINOR {minor}\n#define SRWL_VERSION_PATCH {patch}\n#define SRWL_VERSION_STRING \"{version}\"\n"
    ));

    let out = crate_dir.join("include").join("softrwlock.h");
    // A header that cannot be generated fails the build: a stale committed header would
    // otherwise pass the "header changed?" check of CI while describing another API.
    let bindings = cbindgen::Builder::new()
        .with_crate(&crate_dir)
        .with_config(config)
        .generate()
        .unwrap_or_else(|e| panic!("cbindgen could not generate {}: {e}", out.display()));
    bindings.write_to_file(&out);

    // The SONAME (libsoftrwlock.so.<major>) is set only when the build installs the versioned
    // file and its symlinks (CMake sets SOFTRWLOCK_SONAME): a plain `cargo build` writes only
    // libsoftrwlock.so, and a binary linked against it must find what its NEEDED entry names.
    println!("cargo:rerun-if-env-changed=SOFTRWLOCK_SONAME");
    if let Ok(soname) = env::var("SOFTRWLOCK_SONAME") {
        if !soname.is_empty() && env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
            println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,{soname}");
        }
    }
}
