//! Property tests with random inputs (rand only, no extra dependency): random bytes into every
//! parser, and random operation sequences from several handles checked against a reference
//! model of the lock.

mod common;
use common::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use softrwlock::record::{
    parse_reader_record_name, parse_transit, transit_name, Baton, Record, Role, Ticket, TicketKind,
    Token,
};
use softrwlock::{Mode, Status};

fn seed() -> u64 {
    std::env::var("SRWL_PROPTEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random)
}

fn valid_record(rng: &mut StdRng) -> Vec<u8> {
    let role = [Role::Read, Role::Write, Role::Wait][rng.gen_range(0..3)];
    let host: String = (0..rng.gen_range(1..=64))
        .map(|_| b"abcXYZ019.-_"[rng.gen_range(0..12)] as char)
        .collect();
    let r = Record {
        role,
        token: Token::random(),
        pid: rng.gen_range(1..=4_194_304),
        host,
        origin: None,
        lease_ms: rng.gen_range(1..=86_400_000),
        nonce: rng.gen(),
    };
    let mut v = Vec::new();
    r.encode(&mut v);
    v
}

#[test]
fn parsers_never_panic_and_accept_only_what_round_trips() {
    let s = seed();
    eprintln!("SRWL_PROPTEST_SEED={s}");
    let mut rng = StdRng::seed_from_u64(s);
    let mut accepted = 0;
    for i in 0..20_000 {
        let mut input = if i % 2 == 0 {
            valid_record(&mut rng)
        } else {
            (0..rng.gen_range(0..700)).map(|_| rng.gen()).collect()
        };
        // Mutate: flip, insert, delete, truncate.
        for _ in 0..rng.gen_range(0..4) {
            if input.is_empty() {
                break;
            }
            let at = rng.gen_range(0..input.len());
            match rng.gen_range(0..4) {
                0 => input[at] ^= 1 << rng.gen_range(0..8),
                1 => input.insert(at, rng.gen()),
                2 => {
                    input.remove(at);
                }
                _ => input.truncate(at),
            }
        }
        if let Some(r) = Record::parse(&input) {
            accepted += 1;
            let mut again = Vec::new();
            r.encode(&mut again);
            assert_eq!(again, input, "accepted a record that does not round-trip");
            assert!(input.len() <= 512);
        }
        if let Some(t) = Ticket::parse(&input) {
            assert_eq!(t.name().as_bytes(), &input[..]);
        }
        if let Some(tok) = parse_reader_record_name(&input) {
            assert_eq!(
                softrwlock::record::reader_record_name(&tok).as_bytes(),
                &input[..]
            );
        }
        if let Some(g) = Baton::parse_resting(&input) {
            assert_eq!(Baton::resting_name(g).as_bytes(), &input[..]);
        }
        if let Some((g, tok)) = Baton::parse_held(&input) {
            assert_eq!(Baton::held_name(g, &tok).as_bytes(), &input[..]);
        }
        if let Some(tok) = parse_transit(&input) {
            assert_eq!(transit_name(&tok).as_bytes(), &input[..]);
        }
    }
    assert!(
        accepted > 1000,
        "only {accepted} valid records accepted: the generator is broken"
    );
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
