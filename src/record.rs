//! srwl/2 names and records: building them and parsing them with hard bounds.
//!
//! A record is at most 512 bytes of printable ASCII, seven lines with exact keys in a fixed
//! order (see docs/PROTOCOL.md). Anything else is malformed, and a malformed record is treated
//! like a record that never changes: it is evicted after the observer's stale threshold.

use crate::fs::{random_bytes, Name, READ_CAP};
use crate::liveness::Origin;

pub const MAGIC: &str = "srwl/2";
pub const MAX_HOST: usize = 64;
pub const MAX_PID: u64 = 4_194_304; // Linux PID_MAX_LIMIT
pub const MAX_LEASE_MS: u64 = 86_400_000;

/// A 128-bit random token, the identity of one hold or one wait. Never reused.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct Token(pub [u8; 32]); // lowercase hex digits

impl Token {
    pub fn random() -> Token {
        let mut raw = [0u8; 16];
        random_bytes(&mut raw);
        let mut t = [0u8; 32];
        hex_into(&raw, &mut t);
        Token(t)
    }

    pub fn parse(s: &[u8]) -> Option<Token> {
        if s.len() != 32
            || !s
                .iter()
                .all(|&c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c))
        {
            return None;
        }
        let mut t = [0u8; 32];
        t.copy_from_slice(s);
        Some(Token(t))
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).expect("hex")
    }
}

fn hex_into(raw: &[u8], out: &mut [u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for (i, b) in raw.iter().enumerate() {
        out[2 * i] = HEX[(b >> 4) as usize];
        out[2 * i + 1] = HEX[(b & 15) as usize];
    }
}

fn parse_hex_u64(s: &[u8]) -> Option<u64> {
    if s.is_empty()
        || s.len() > 16
        || !s
            .iter()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
    {
        return None;
    }
    u64::from_str_radix(std::str::from_utf8(s).ok()?, 16).ok()
}

fn parse_dec(s: &[u8], max: u64) -> Option<u64> {
    if s.is_empty() || s.len() > 10 || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    if s.len() > 1 && s[0] == b'0' {
        return None;
    }
    let v: u64 = std::str::from_utf8(s).ok()?.parse().ok()?;
    (v <= max).then_some(v)
}

/// The role a record announces (the record format's `role` line). Not the acquire mode: that
/// is `protocol::Mode` (a waiting reader's record says `wait`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// A reader inside the room: `R/r.<token>`.
    Read,
    /// A writer: its claim `Q/w.<seq>.<token>` while it waits, the baton `Q/b.<gen>.<token>`
    /// while it holds the baton (closing the room, holding, releasing).
    Write,
    /// A reader waiting in the queue: `Q/r.<seq>.<token>`.
    Wait,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Read => "read",
            Role::Write => "write",
            Role::Wait => "wait",
        }
    }
    fn parse(s: &[u8]) -> Option<Role> {
        match s {
            b"read" => Some(Role::Read),
            b"write" => Some(Role::Write),
            b"wait" => Some(Role::Wait),
            _ => None,
        }
    }
}

/// A parsed record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    pub role: Role,
    pub token: Token,
    pub pid: u32,
    pub host: String,
    /// Where the process runs (boot id, pid namespace, start time), so that an observer on
    /// the same host can tell at once that it died. Absent in records of older versions.
    pub origin: Option<Origin>,
    pub lease_ms: u64,
    pub nonce: u64,
}

/// Makes a hostname safe for a record: [A-Za-z0-9._-], at most 64 bytes, never empty.
pub fn sanitize_host(raw: &[u8]) -> String {
    let mut s: String = raw
        .iter()
        .take(MAX_HOST)
        .map(|&c| {
            if c.is_ascii_alphanumeric() || c == b'.' || c == b'-' || c == b'_' {
                c as char
            } else {
                '_'
            }
        })
        .collect();
    if s.is_empty() {
        s.push_str("unknown");
    }
    s
}

/// This host's name as records carry it (sanitised; "unknown" if it cannot be read).
pub fn host_name() -> String {
    use std::os::unix::ffi::OsStrExt;
    hostname::get()
        .map(|h| sanitize_host(h.as_bytes()))
        .unwrap_or_else(|_| "unknown".into())
}

fn valid_host(s: &[u8]) -> bool {
    !s.is_empty()
        && s.len() <= MAX_HOST
        && s.iter()
            .all(|&c| c.is_ascii_alphanumeric() || c == b'.' || c == b'-' || c == b'_')
}

impl Record {
    /// The record's bytes. Only the nonce changes between heartbeats and it has a fixed
    /// width, so a rewrite in place never changes the length.
    pub fn encode(&self, out: &mut Vec<u8>) {
        use std::io::Write;
        out.clear();
        let _ = write!(
            out,
            "{MAGIC}\nrole {}\ntoken {}\npid {}\nhost {}\n",
            self.role.as_str(),
            self.token.as_str(),
            self.pid,
            self.host,
        );
        if let Some(origin) = &self.origin {
            let _ = writeln!(out, "proc {}", origin.encode());
        }
        let _ = write!(
            out,
            "lease_ms {}\nnonce {:016x}\n",
            self.lease_ms, self.nonce
        );
    }

    /// Parses a record; None if it is malformed in any way.
    pub fn parse(b: &[u8]) -> Option<Record> {
        let r = RecordRef::parse(b)?;
        Some(Record {
            role: r.role,
            token: r.token,
            pid: r.pid,
            host: String::from_utf8(r.host.to_vec()).ok()?,
            origin: r.origin,
            lease_ms: r.lease_ms,
            nonce: r.nonce,
        })
    }
}

/// A parsed record borrowing its host from the bytes: parsing allocates nothing (for a caller
/// that must not allocate, such as a withdrawal after a thread was frozen).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordRef<'a> {
    pub role: Role,
    pub token: Token,
    pub pid: u32,
    pub host: &'a [u8],
    pub origin: Option<Origin>,
    pub lease_ms: u64,
    pub nonce: u64,
}

impl<'a> RecordRef<'a> {
    /// Parses a record; None if it is malformed in any way (the rules of `Record::parse`).
    pub fn parse(b: &'a [u8]) -> Option<RecordRef<'a>> {
        if b.is_empty() || b.len() > READ_CAP || *b.last()? != b'\n' {
            return None;
        }
        if !b.iter().all(|&c| c == b'\n' || (0x20..0x7f).contains(&c)) {
            return None;
        }
        let mut lines = b[..b.len() - 1].split(|&c| c == b'\n').peekable();
        if lines.next()? != MAGIC.as_bytes() {
            return None;
        }
        // The next line's value if it has this key; an optional key's absence consumes nothing.
        let mut next_field = |key: &[u8], optional: bool| -> Option<&'a [u8]> {
            let line = *lines.peek()?;
            let value = line.strip_prefix(key).and_then(|r| r.strip_prefix(b" "));
            if value.is_some() || !optional {
                lines.next();
            }
            value
        };
        let role = Role::parse(next_field(b"role", false)?)?;
        let token = Token::parse(next_field(b"token", false)?)?;
        let pid = parse_dec(next_field(b"pid", false)?, MAX_PID)?;
        if pid == 0 {
            return None;
        }
        let host = next_field(b"host", false)?;
        if !valid_host(host) {
            return None;
        }
        let origin = match next_field(b"proc", true) {
            Some(o) => Some(Origin::parse(o)?),
            None => None,
        };
        let lease_ms = parse_dec(next_field(b"lease_ms", false)?, MAX_LEASE_MS)?;
        if lease_ms == 0 {
            return None;
        }
        let nonce_s = next_field(b"nonce", false)?;
        if nonce_s.len() != 16 {
            return None;
        }
        let nonce = parse_hex_u64(nonce_s)?;
        if lines.next().is_some() {
            return None;
        }
        Some(RecordRef {
            role,
            token,
            pid: pid as u32,
            host,
            origin,
            lease_ms,
            nonce,
        })
    }
}

/// Kind of a queue ticket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TicketKind {
    Reader,
    Writer,
}

/// A queue entry name: `r.<seq>.<token>` (reader ticket) or `w.<seq>.<token>` (writer claim),
/// both regular files. Order is (seq, token).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ticket {
    pub kind: TicketKind,
    pub seq: u64,
    pub token: Token,
}

impl Ticket {
    pub fn key(&self) -> (u64, Token) {
        (self.seq, self.token)
    }

    pub fn name(&self) -> Name {
        let mut seq = [0u8; 16];
        hex_into(&self.seq.to_be_bytes(), &mut seq);
        let k: &[u8] = match self.kind {
            TicketKind::Reader => b"r.",
            TicketKind::Writer => b"w.",
        };
        Name::from_bytes(&[k, &seq, b".", self.token.as_bytes()])
    }

    pub fn parse(name: &[u8]) -> Option<Ticket> {
        if name.len() != 2 + 16 + 1 + 32 || name[18] != b'.' {
            return None;
        }
        let kind = match &name[..2] {
            b"r." => TicketKind::Reader,
            b"w." => TicketKind::Writer,
            _ => return None,
        };
        let seq = parse_hex_u64(&name[2..18])?;
        let token = Token::parse(&name[19..])?;
        Some(Ticket { kind, seq, token })
    }
}

/// The baton: the one file of a lock that is only ever renamed, never copied or recreated.
/// At rest in the room it is `R/baton.<gen>` (16 hex digits); held by a process it is
/// `Q/b.<gen>.<token>`. `gen` is the generation (fencing token) of the last write grant, or of
/// the grant its holder is working towards.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Baton {
    pub gen: u64,
}

impl Baton {
    /// `baton.<gen>`: the name at rest in the room.
    pub fn resting_name(gen: u64) -> Name {
        let mut g = [0u8; 16];
        hex_into(&gen.to_be_bytes(), &mut g);
        Name::from_bytes(&[b"baton.", &g])
    }

    /// `b.<gen>.<token>`: the name in the queue while `token` holds it.
    pub fn held_name(gen: u64, token: &Token) -> Name {
        let mut g = [0u8; 16];
        hex_into(&gen.to_be_bytes(), &mut g);
        Name::from_bytes(&[b"b.", &g, b".", token.as_bytes()])
    }

    /// Parses `baton.<gen>`.
    pub fn parse_resting(name: &[u8]) -> Option<u64> {
        let g = name.strip_prefix(b"baton.")?;
        if g.len() != 16 {
            return None;
        }
        parse_hex_u64(g)
    }

    /// Parses `b.<gen>.<token>`.
    pub fn parse_held(name: &[u8]) -> Option<(u64, Token)> {
        if name.len() != 2 + 16 + 1 + 32 || &name[..2] != b"b." || name[18] != b'.' {
            return None;
        }
        Some((parse_hex_u64(&name[2..18])?, Token::parse(&name[19..])?))
    }
}

/// `t.<token>` in the sidecar: a baton being created (initialisation, see `init`).
pub fn transit_name(token: &Token) -> Name {
    Name::from_bytes(&[b"t.", token.as_bytes()])
}

/// Parses `t.<token>`.
pub fn parse_transit(name: &[u8]) -> Option<Token> {
    Token::parse(name.strip_prefix(b"t.")?)
}

/// `h.<token>.<pid>.<host>` in the sidecar: one handle's reader-record template (a reader
/// record is made as a hard link of it, see protocol/room.rs). The pid and host are in the name so
/// that the templates of dead processes on this host can be found from a listing alone.
pub fn template_name(token: &Token, pid: u32, host: &str) -> Name {
    let pid = pid.to_string();
    Name::from_bytes(&[
        b"h.",
        token.as_bytes(),
        b".",
        pid.as_bytes(),
        b".",
        host.as_bytes(),
    ])
}

/// Parses `h.<token>.<pid>.<host>` into (token, pid, host).
pub fn parse_template(name: &[u8]) -> Option<(Token, u32, &[u8])> {
    let rest = name.strip_prefix(b"h.")?;
    let token = Token::parse(rest.get(..32)?)?;
    let rest = rest.get(32..)?.strip_prefix(b".")?;
    let dot = rest.iter().position(|&c| c == b'.')?;
    let pid = parse_dec(&rest[..dot], MAX_PID).filter(|&p| p > 0)? as u32;
    let host = &rest[dot + 1..];
    valid_host(host).then_some((token, pid, host))
}

/// Name of a reader's record in the room: `r.<token>`.
pub fn reader_record_name(token: &Token) -> Name {
    Name::from_bytes(&[b"r.", token.as_bytes()])
}

/// Parses a reader's record name `r.<token>`.
pub fn parse_reader_record_name(name: &[u8]) -> Option<Token> {
    if name.len() != 34 {
        return None;
    }
    Token::parse(name.strip_prefix(b"r.")?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_with_its_origin_round_trips_and_a_bad_origin_is_malformed() {
        let r = Record {
            origin: crate::liveness::this_process(),
            ..sample()
        };
        assert!(r.origin.is_some());
        let mut v = Vec::new();
        r.encode(&mut v);
        assert_eq!(Record::parse(&v), Some(r));
        let text = String::from_utf8(v).unwrap();
        let bad = text.replacen("proc ", "proc x", 1);
        assert_eq!(Record::parse(bad.as_bytes()), None);
        let misplaced = text.replacen("proc ", "prox ", 1);
        assert_eq!(Record::parse(misplaced.as_bytes()), None);
    }

    fn sample() -> Record {
        Record {
            role: Role::Write,
            token: Token::random(),
            pid: 4242,
            host: "node-a.cluster".into(),
            origin: None,
            lease_ms: 90_000,
            nonce: 0xdead_beef,
        }
    }

    #[test]
    fn record_round_trips_and_has_fixed_length_across_nonces() {
        let mut r = sample();
        let mut a = Vec::new();
        r.encode(&mut a);
        assert_eq!(Record::parse(&a), Some(r.clone()));
        r.nonce = u64::MAX;
        let mut b = Vec::new();
        r.encode(&mut b);
        assert_eq!(a.len(), b.len());
        assert!(a.len() < 200);
    }

    #[test]
    fn malformed_records_are_rejected() {
        let mut good = Vec::new();
        sample().encode(&mut good);
        let text = String::from_utf8(good.clone()).unwrap();
        let bad: Vec<Vec<u8>> = vec![
            vec![],
            b"\n".to_vec(),
            good[..good.len() - 1].to_vec(), // truncated: no final newline
            good[..good.len() / 2].to_vec(), // truncated in the middle
            text.replace("srwl/2", "srwl/1").into_bytes(), // another protocol version
            text.replace("role write", "role boss").into_bytes(),
            text.replace("pid 4242", "pid 99999999999").into_bytes(),
            text.replace("pid 4242", "pid 0").into_bytes(),
            text.replace("pid 4242", "pid 04242").into_bytes(),
            text.replace("pid 4242", "pid -1").into_bytes(),
            text.replace("host node-a.cluster", "host ").into_bytes(),
            text.replace("host node-a.cluster", "host a/b").into_bytes(),
            text.replace("host node-a.cluster", &format!("host {}", "h".repeat(65)))
                .into_bytes(),
            text.replace("lease_ms 90000", "lease_ms 86400001")
                .into_bytes(),
            text.replace("nonce ", "nonce x").into_bytes(),
            text.replace("token ", "token A").into_bytes(),
            text.replace("token ", "tokens ").into_bytes(),
            format!("{text}extra 1\n").into_bytes(),
            text.replace('e', "é").into_bytes(), // non-ASCII
            {
                let mut v = good.clone();
                v[10] = 0;
                v
            }, // binary
            vec![b'a'; 5000],                    // oversized
        ];
        for b in bad {
            assert_eq!(
                Record::parse(&b),
                None,
                "accepted {:?}",
                String::from_utf8_lossy(&b)
            );
        }
    }

    #[test]
    fn ticket_names_round_trip_and_order() {
        let t = Ticket {
            kind: TicketKind::Writer,
            seq: 7,
            token: Token::random(),
        };
        let n = t.name();
        assert_eq!(n.as_bytes().len(), 51);
        assert_eq!(Ticket::parse(n.as_bytes()), Some(t));
        let r = Ticket {
            kind: TicketKind::Reader,
            seq: 8,
            token: t.token,
        };
        assert!(t.key() < r.key());
        for bad in [
            &b"x.0000000000000007.0123"[..],
            b"w.000000000000000G.00000000000000000000000000000000",
            b"",
        ] {
            assert_eq!(Ticket::parse(bad), None);
        }
    }

    #[test]
    fn template_names_round_trip() {
        let t = Token::random();
        for (pid, host) in [
            (1, "a"),
            (4_194_304, "node-17.cluster_x"),
            (42, &"h".repeat(64)[..]),
        ] {
            let n = template_name(&t, pid, host);
            assert!(n.as_bytes().starts_with(b"h."));
            assert_eq!(
                parse_template(n.as_bytes()),
                Some((t, pid, host.as_bytes()))
            );
        }
        let bad: [&[u8]; 6] = [
            b"h.",
            b"h.0123.1.a",
            b"t.0123456789abcdef0123456789abcdef.1.a",
            b"h.0123456789abcdef0123456789abcdef.0.a",
            b"h.0123456789abcdef0123456789abcdef.12.",
            b"h.0123456789abcdef0123456789abcdef.12.a/b",
        ];
        for b in bad {
            assert_eq!(parse_template(b), None, "{}", String::from_utf8_lossy(b));
        }
    }

    #[test]
    fn record_names_round_trip() {
        let t = Token::random();
        let n = reader_record_name(&t);
        assert_eq!(parse_reader_record_name(n.as_bytes()), Some(t));
        assert_eq!(parse_reader_record_name(b"closed"), None);
        assert_eq!(parse_reader_record_name(b"r.XYZ"), None);
        // srwl/2 never makes `w.<token>` in the room: such a name is not a record.
        let w = [b"w.", t.as_bytes()].concat();
        assert_eq!(parse_reader_record_name(&w), None);
    }

    #[test]
    fn baton_names_round_trip() {
        let t = Token::random();
        let held = Baton::held_name(0x1234, &t);
        assert_eq!(held.as_bytes().len(), 51);
        assert_eq!(Baton::parse_held(held.as_bytes()), Some((0x1234, t)));
        let rest = Baton::resting_name(7);
        assert_eq!(rest.as_bytes(), b"baton.0000000000000007");
        assert_eq!(Baton::parse_resting(rest.as_bytes()), Some(7));
        assert_eq!(Baton::parse_resting(b"baton.7"), None);
        assert_eq!(Baton::parse_resting(b"baton.000000000000000G"), None);
        assert_eq!(Baton::parse_held(b"b.0000000000000007"), None);
        assert_eq!(Ticket::parse(held.as_bytes()), None);
        assert_eq!(parse_transit(transit_name(&t).as_bytes()), Some(t));
    }

    #[test]
    fn hosts_are_sanitized() {
        assert_eq!(sanitize_host(b"node 1/\xff"), "node_1__");
        assert_eq!(sanitize_host(b""), "unknown");
        assert_eq!(sanitize_host(&[b'a'; 100]).len(), 64);
    }

    #[test]
    fn tokens_are_unique_hex() {
        let a = Token::random();
        let b = Token::random();
        assert_ne!(a, b);
        assert!(Token::parse(a.as_bytes()).is_some());
    }
}
