//! A small hand-written argument parser: `--name value`, `--name=value`, `-x value`,
//! positional arguments and `--`.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;

pub enum Arg {
    /// An option, with its value if given inline (`--name=value`).
    Opt(String, Option<String>),
    Positional(OsString),
    /// `--`: everything after it is positional.
    DoubleDash,
}

pub struct Parser<'a> {
    args: &'a [OsString],
    pos: usize,
}

impl<'a> Parser<'a> {
    pub fn new(args: &'a [OsString]) -> Parser<'a> {
        Parser { args, pos: 0 }
    }

    pub fn next_arg(&mut self) -> Option<Arg> {
        let a = self.args.get(self.pos)?;
        self.pos += 1;
        let b = a.as_bytes();
        if b == b"--" {
            return Some(Arg::DoubleDash);
        }
        // "-" alone and negative numbers are positional; "-x" and "--name" are options.
        if b.len() >= 2 && b[0] == b'-' && !b[1].is_ascii_digit() {
            let s = a.to_string_lossy().into_owned();
            if let Some(rest) = s.strip_prefix("--") {
                if let Some((name, value)) = rest.split_once('=') {
                    return Some(Arg::Opt(format!("--{name}"), Some(value.to_string())));
                }
            }
            return Some(Arg::Opt(s, None));
        }
        Some(Arg::Positional(a.clone()))
    }

    /// The value of option `name`: inline, or the next argument.
    pub fn value(&mut self, name: &str, inline: Option<String>) -> Result<String, String> {
        if let Some(v) = inline {
            return Ok(v);
        }
        match self.args.get(self.pos) {
            Some(v) => {
                self.pos += 1;
                Ok(v.to_string_lossy().into_owned())
            }
            None => Err(format!("option {name} needs a value")),
        }
    }

    /// The arguments not consumed yet.
    pub fn rest(&self) -> &'a [OsString] {
        &self.args[self.pos.min(self.args.len())..]
    }
}

/// Parses a number of seconds (a decimal number; -1 only where `allow_forever`).
pub fn seconds(name: &str, s: &str, allow_forever: bool) -> Result<f64, String> {
    let v: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("{name} {s:?}: expected a number of seconds"))?;
    if allow_forever && v == -1.0 {
        return Ok(v);
    }
    if !v.is_finite() || v < 0.0 {
        let extra = if allow_forever {
            " (or -1 for forever)"
        } else {
            ""
        };
        return Err(format!(
            "{name} {s:?}: expected a non-negative number of seconds{extra}"
        ));
    }
    Ok(v)
}

/// Parses a positive integer no larger than `max`.
pub fn count(name: &str, s: &str, max: u64) -> Result<u64, String> {
    match s.trim().parse::<u64>() {
        Ok(v) if v >= 1 && v <= max => Ok(v),
        _ => Err(format!(
            "{name} {s:?}: expected a whole number from 1 to {max}"
        )),
    }
}

/// Bytes of a path argument (need not be UTF-8).
pub fn path_bytes(p: &OsStr) -> &[u8] {
    p.as_bytes()
}
