//! Property tests with random inputs (rand only, no extra dependency): valid inputs of every
//! parser (made by the library's formatters from random values), the same mutated, and random
//! bytes, into every parser, each with a minimum number of accepted inputs so that the
//! round-trip assertions really run; and random operation sequences from several handles
//! checked against a reference model of the lock.

mod common;
use common::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use softrwlock::liveness::Origin;
use softrwlock::record::{
    parse_reader_record_name, parse_template, parse_transit, reader_record_name, template_name,
    transit_name, Baton, Record, Role, Ticket, TicketKind, Token,
};
use softrwlock::{Mode, Status};

fn seed() -> u64 {
    std::env::var("SRWL_PROPTEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random)
}

fn valid_host(rng: &mut StdRng) -> String {
    (0..rng.gen_range(1..=64))
        .map(|_| b"abcXYZ019.-_"[rng.gen_range(0..12)] as char)
        .collect()
}

fn valid_token(rng: &mut StdRng) -> Token {
    let hex: Vec<u8> = (0..32)
        .map(|_| b"0123456789abcdef"[rng.gen_range(0..16)])
        .collect();
    Token::parse(&hex).unwrap()
}

/// A generation or a queue seq: small, large and extreme values.
fn valid_u64(rng: &mut StdRng) -> u64 {
    match rng.gen_range(0..4) {
        0 => rng.gen_range(0..16),
        1 => u64::MAX - rng.gen_range(0..16),
        _ => rng.gen(),
    }
}

fn valid_record(rng: &mut StdRng) -> (Vec<u8>, Record) {
    let role = [Role::Read, Role::Write, Role::Wait][rng.gen_range(0..3)];
    let r = Record {
        role,
        token: valid_token(rng),
        pid: rng.gen_range(1..=4_194_304),
        host: valid_host(rng),
        origin: rng.gen_bool(0.5).then(|| Origin {
            boot: valid_token(rng).0,
            pidns: rng.gen(),
            start: rng.gen(),
        }),
        lease_ms: rng.gen_range(1..=86_400_000),
        nonce: rng.gen(),
    };
    let mut v = Vec::new();
    r.encode(&mut v);
    (v, r)
}

/// The parsers under test, in the order of `Parsed`'s fields and of the generators.
const PARSERS: [&str; 7] = [
    "record",
    "ticket",
    "record name",
    "resting baton",
    "held baton",
    "transit name",
    "template name",
];

/// A valid input for parser `p`, made by the library's own formatter from random values, and
/// those values (as the parser must give them back).
fn valid_input(rng: &mut StdRng, p: usize) -> (Vec<u8>, String) {
    match p {
        0 => {
            let (v, r) = valid_record(rng);
            (v, format!("{r:?}"))
        }
        1 => {
            let kind = [TicketKind::Reader, TicketKind::Writer][rng.gen_range(0..2)];
            let t = Ticket {
                kind,
                seq: valid_u64(rng),
                token: valid_token(rng),
            };
            (t.name().as_bytes().to_vec(), format!("{t:?}"))
        }
        2 => {
            let tok = valid_token(rng);
            (
                reader_record_name(&tok).as_bytes().to_vec(),
                format!("{tok:?}"),
            )
        }
        3 => {
            let g = valid_u64(rng);
            (Baton::resting_name(g).as_bytes().to_vec(), format!("{g:?}"))
        }
        4 => {
            let (g, tok) = (valid_u64(rng), valid_token(rng));
            (
                Baton::held_name(g, &tok).as_bytes().to_vec(),
                format!("{:?}", (g, tok)),
            )
        }
        5 => {
            let tok = valid_token(rng);
            (transit_name(&tok).as_bytes().to_vec(), format!("{tok:?}"))
        }
        _ => {
            let (tok, pid, host) = (
                valid_token(rng),
                rng.gen_range(1..=4_194_304),
                valid_host(rng),
            );
            (
                template_name(&tok, pid, &host).as_bytes().to_vec(),
                format!("{:?}", (tok, pid, host.as_bytes())),
            )
        }
    }
}

/// A parser's value formatted again must be exactly its input.
fn round_trips(again: &[u8], input: &[u8], what: &str) {
    assert!(
        again == input,
        "{what}: {:?} formatted again is {:?}",
        String::from_utf8_lossy(input),
        String::from_utf8_lossy(again)
    );
}

/// Runs every parser on `input`; each that accepts must give back exactly `input` through its
/// formatter. Returns what each parser made of it (None: rejected), as text.
fn parse_all(input: &[u8]) -> [Option<String>; 7] {
    let mut out: [Option<String>; 7] = Default::default();
    if let Some(r) = Record::parse(input) {
        let mut again = Vec::new();
        r.encode(&mut again);
        round_trips(&again, input, "accepted a record that does not round-trip");
        assert!(input.len() <= 512);
        out[0] = Some(format!("{r:?}"));
    }
    if let Some(t) = Ticket::parse(input) {
        round_trips(t.name().as_bytes(), input, "ticket does not round-trip");
        out[1] = Some(format!("{t:?}"));
    }
    if let Some(tok) = parse_reader_record_name(input) {
        round_trips(
            reader_record_name(&tok).as_bytes(),
            input,
            "record name does not round-trip",
        );
        out[2] = Some(format!("{tok:?}"));
    }
    if let Some(g) = Baton::parse_resting(input) {
        round_trips(
            Baton::resting_name(g).as_bytes(),
            input,
            "resting baton does not round-trip",
        );
        out[3] = Some(format!("{g:?}"));
    }
    if let Some((g, tok)) = Baton::parse_held(input) {
        round_trips(
            Baton::held_name(g, &tok).as_bytes(),
            input,
            "held baton does not round-trip",
        );
        out[4] = Some(format!("{:?}", (g, tok)));
    }
    if let Some(tok) = parse_transit(input) {
        round_trips(
            transit_name(&tok).as_bytes(),
            input,
            "transit name does not round-trip",
        );
        out[5] = Some(format!("{tok:?}"));
    }
    if let Some((tok, pid, host)) = parse_template(input) {
        round_trips(
            template_name(&tok, pid, std::str::from_utf8(host).unwrap()).as_bytes(),
            input,
            "template name does not round-trip",
        );
        out[6] = Some(format!("{:?}", (tok, pid, host)));
    }
    out
}

fn mutate(rng: &mut StdRng, input: &mut Vec<u8>) {
    // Flip a bit, swap in a character of the names' alphabet, insert, delete, truncate.
    for _ in 0..rng.gen_range(1..4) {
        if input.is_empty() {
            break;
        }
        let at = rng.gen_range(0..input.len());
        match rng.gen_range(0..5) {
            0 => input[at] ^= 1 << rng.gen_range(0..8),
            1 => {
                let alphabet = b"0123456789abcdefABCFrwbht.=\n";
                input[at] = alphabet[rng.gen_range(0..alphabet.len())]
            }
            2 => input.insert(at, rng.gen()),
            3 => {
                input.remove(at);
            }
            _ => input.truncate(at),
        }
    }
}

#[test]
fn parsers_never_panic_and_accept_only_what_round_trips() {
    let s = seed();
    eprintln!("SRWL_PROPTEST_SEED={s}");
    let mut rng = StdRng::seed_from_u64(s);
    let (mut accepted, mut accepted_mutated) = ([0usize; 7], [0usize; 7]);
    for i in 0..40_000 {
        // Valid inputs of each parser in turn, as made and mutated; then random bytes.
        let p = i % 8;
        let mutated = i % 16 >= 8;
        let (mut input, want) = if p < 7 {
            valid_input(&mut rng, p)
        } else {
            let bytes = (0..rng.gen_range(0..700)).map(|_| rng.gen()).collect();
            (bytes, String::new())
        };
        if p < 7 && !mutated {
            // As made: the parser gives back exactly the values it was made from.
            assert_eq!(
                parse_all(&input)[p].as_deref(),
                Some(&want[..]),
                "{}: a valid input was not given back: {:?}",
                PARSERS[p],
                String::from_utf8_lossy(&input)
            );
        } else if mutated {
            mutate(&mut rng, &mut input);
        }
        for (k, got) in parse_all(&input).iter().enumerate() {
            if got.is_some() {
                accepted[k] += 1;
                accepted_mutated[k] += mutated as usize;
            }
        }
    }
    eprintln!("accepted per parser (of which after a mutation):");
    for k in 0..7 {
        eprintln!(
            "  {}: {} ({})",
            PARSERS[k], accepted[k], accepted_mutated[k]
        );
        // Each parser's round trip ran on thousands of inputs, not just on what random bytes
        // happen to hit (none, for the names).
        assert!(
            accepted[k] >= 2_000,
            "{}: only {} inputs accepted: its round trip was hardly checked",
            PARSERS[k],
            accepted[k]
        );
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Held {
    Free,
    Read(u32),
    Write(u32),
}

#[test]
fn random_operations_match_a_reference_model() {
    let s = seed();
    eprintln!("SRWL_PROPTEST_SEED={s}");
    let mut rng = StdRng::seed_from_u64(s);
    let dir = TempDir::new("model");
    let path = dir.lock_path();
    let handles: Vec<_> = (0..3).map(|_| open(&path, &fast())).collect();
    let mut model = [Held::Free; 3];
    for step in 0..600 {
        let h = rng.gen_range(0..3);
        let others_write = (0..3).any(|o| o != h && matches!(model[o], Held::Write(_)));
        let others_any = (0..3).any(|o| o != h && model[o] != Held::Free);
        let op = rng.gen_range(0..4);
        let (got, want, next) = match op {
            0 => {
                let got = handles[h].acquire(Mode::Read, 0.0).err().map(|e| e.status);
                let (want, next) = match model[h] {
                    Held::Write(_) => (Some(Status::SRWL_ESTATE), model[h]),
                    Held::Read(n) => (None, Held::Read(n + 1)),
                    Held::Free if others_write => (Some(Status::SRWL_TIMEOUT), Held::Free),
                    Held::Free => (None, Held::Read(1)),
                };
                (got, want, next)
            }
            1 => {
                let got = handles[h].acquire(Mode::Write, 0.0).err().map(|e| e.status);
                let (want, next) = match model[h] {
                    Held::Read(_) => (Some(Status::SRWL_ESTATE), model[h]),
                    Held::Write(n) => (None, Held::Write(n + 1)),
                    Held::Free if others_any => (Some(Status::SRWL_TIMEOUT), Held::Free),
                    Held::Free => (None, Held::Write(1)),
                };
                (got, want, next)
            }
            2 => {
                let got = handles[h].release().err().map(|e| e.status);
                let (want, next) = match model[h] {
                    Held::Free => (Some(Status::SRWL_ESTATE), Held::Free),
                    Held::Read(1) | Held::Write(1) => (None, Held::Free),
                    Held::Read(n) => (None, Held::Read(n - 1)),
                    Held::Write(n) => (None, Held::Write(n - 1)),
                };
                (got, want, next)
            }
            _ => {
                let got = handles[h].check().err().map(|e| e.status);
                let want = if model[h] == Held::Free {
                    Some(Status::SRWL_ESTATE)
                } else {
                    None
                };
                (got, want, model[h])
            }
        };
        assert_eq!(
            got, want,
            "step {step}: handle {h} op {op} in model {model:?} (seed {s})"
        );
        model[h] = next;
    }
    // Release everything; the room and queue end empty.
    for (h, l) in handles.iter().enumerate() {
        while model[h] != Held::Free {
            l.release().unwrap();
            model[h] = match model[h] {
                Held::Read(n) if n > 1 => Held::Read(n - 1),
                Held::Write(n) if n > 1 => Held::Write(n - 1),
                _ => Held::Free,
            };
        }
    }
    assert_eq!(room_entries(&dir.0.join("lock.srwl")), Vec::<String>::new());
    assert_eq!(entries(&dir.0.join("lock.srwl/Q")), Vec::<String>::new());
    let _ = (TicketKind::Reader, Token::random());
}
