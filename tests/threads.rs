//! Exclusion and fairness among handles in one process (each handle is one participant).

mod common;
use common::*;
use softrwlock::{Mode, Role, Status};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[test]
fn writers_and_readers_exclude_each_other() {
    let dir = TempDir::new("excl");
    let path = dir.lock_path();
    let inside = Arc::new(AtomicI64::new(0)); // >0 readers, -1 writer
    let violations = Arc::new(AtomicU64::new(0));
    let counter = Arc::new(AtomicU64::new(0));
    let grants = Arc::new(AtomicU64::new(0));
    let stop = Instant::now() + Duration::from_secs(3);
    let mut ts = vec![];
    for i in 0..6 {
        let (path, inside, violations, counter, grants) = (
            path.clone(),
            inside.clone(),
            violations.clone(),
            counter.clone(),
            grants.clone(),
        );
        ts.push(std::thread::spawn(move || {
            let l = open(&path, &fast());
            let writer = i % 2 == 0;
            while Instant::now() < stop {
                if writer {
                    assert_eq!(l.acquire(Mode::Write, 10.0), Ok(()));
                    if inside.swap(-1, Ordering::SeqCst) != 0 {
                        violations.fetch_add(1, Ordering::SeqCst);
                    }
                    let c = counter.load(Ordering::SeqCst);
                    std::thread::sleep(Duration::from_micros(200));
                    counter.store(c + 1, Ordering::SeqCst);
                    grants.fetch_add(1, Ordering::SeqCst);
                    inside.store(0, Ordering::SeqCst);
                    l.release().unwrap();
                } else {
                    assert_eq!(l.acquire(Mode::Read, 10.0), Ok(()));
                    if inside.fetch_add(1, Ordering::SeqCst) < 0 {
                        violations.fetch_add(1, Ordering::SeqCst);
                    }
                    std::thread::sleep(Duration::from_micros(300));
                    inside.fetch_sub(1, Ordering::SeqCst);
                    l.release().unwrap();
                }
            }
            l.close().unwrap();
        }));
    }
    for t in ts {
        t.join().unwrap();
    }
    let g = grants.load(Ordering::SeqCst);
    assert!(g > 10, "only {g} write grants");
    assert_eq!(counter.load(Ordering::SeqCst), g);
    assert_eq!(violations.load(Ordering::SeqCst), 0);
    // Nothing is left behind: a room holding only the baton, and an empty queue.
    let side = dir.0.join("lock.srwl");
    assert_eq!(room_entries(&side), Vec::<String>::new());
    assert_eq!(entries(&side.join("Q")), Vec::<String>::new());
    assert!(!path.exists(), "the lock path itself is never created");
}

#[test]
fn try_once_and_timeouts_leave_nothing_behind() {
    let dir = TempDir::new("timeout");
    let path = dir.lock_path();
    let a = open(&path, &fast());
    let b = open(&path, &fast());
    a.acquire(Mode::Write, 0.0).unwrap();
    let e = b.acquire(Mode::Read, 0.0).unwrap_err();
    assert_eq!(e.status, Status::SRWL_TIMEOUT);
    let t = Instant::now();
    let e = b.acquire(Mode::Write, 0.3).unwrap_err();
    assert_eq!(e.status, Status::SRWL_TIMEOUT);
    assert!(t.elapsed() >= Duration::from_millis(290) && t.elapsed() < Duration::from_secs(5));
    // While a holds the write lock: no room, and in the queue only a's baton.
    let q = entries(&dir.0.join("lock.srwl/Q"));
    assert!(q.len() == 1 && q[0].starts_with("b."), "{q:?}");
    assert!(!dir.0.join("lock.srwl/R").exists());
    a.release().unwrap();
    b.acquire(Mode::Read, 0.0).unwrap();
    assert_eq!(
        a.acquire(Mode::Write, 0.1).unwrap_err().status,
        Status::SRWL_TIMEOUT
    );
    b.release().unwrap();
    assert_eq!(room_entries(&dir.0.join("lock.srwl")), Vec::<String>::new());
    assert_eq!(entries(&dir.0.join("lock.srwl/Q")), Vec::<String>::new());
}

#[test]
fn nesting_upgrade_downgrade_and_wrong_thread() {
    let dir = TempDir::new("nest");
    let l = Arc::new(open(&dir.lock_path(), &fast()));
    l.acquire(Mode::Read, 0.0).unwrap();
    let l2 = l.clone();
    std::thread::spawn(move || l2.acquire(Mode::Read, 0.0).unwrap())
        .join()
        .unwrap();
    assert_eq!(
        l.acquire(Mode::Write, 0.0).unwrap_err().status,
        Status::SRWL_ESTATE
    );
    l.release().unwrap();
    l.release().unwrap();
    assert_eq!(l.release().unwrap_err().status, Status::SRWL_ESTATE);
    l.acquire(Mode::Write, 0.0).unwrap();
    l.acquire(Mode::Write, 0.0).unwrap();
    assert_eq!(
        l.acquire(Mode::Read, 0.0).unwrap_err().status,
        Status::SRWL_ESTATE
    );
    let l2 = l.clone();
    let other = std::thread::spawn(move || {
        (
            l2.release().unwrap_err().status,
            l2.acquire(Mode::Write, 0.05).unwrap_err().status,
        )
    })
    .join()
    .unwrap();
    assert_eq!(other, (Status::SRWL_ESTATE, Status::SRWL_TIMEOUT));
    l.release().unwrap();
    l.check().unwrap();
    let g1 = l.generation().unwrap();
    l.release().unwrap();
    assert_eq!(l.check().unwrap_err().status, Status::SRWL_ESTATE);
    l.acquire(Mode::Write, 0.0).unwrap();
    assert_eq!(l.generation().unwrap(), g1 + 1);
    l.release().unwrap();
    l.acquire(Mode::Read, 0.0).unwrap();
    assert_eq!(l.generation().unwrap(), g1 + 1);
    l.release().unwrap();
}

#[test]
fn writer_is_not_starved_by_overlapping_readers() {
    let dir = TempDir::new("wpref");
    let path = dir.lock_path();
    let stop = Arc::new(AtomicBool::new(false));
    let mut ts = vec![];
    for _ in 0..4 {
        let (path, stop) = (path.clone(), stop.clone());
        ts.push(std::thread::spawn(move || {
            let l = open(&path, &fast());
            let mut n = 0u64;
            while !stop.load(Ordering::SeqCst) {
                if l.acquire(Mode::Read, 0.5).is_ok() {
                    n += 1;
                    std::thread::sleep(Duration::from_millis(15));
                    l.release().unwrap();
                }
            }
            n
        }));
    }
    std::thread::sleep(Duration::from_millis(300));
    let w = open(&path, &fast());
    let t = Instant::now();
    w.acquire(Mode::Write, 10.0).unwrap();
    let waited = t.elapsed();
    w.release().unwrap();
    stop.store(true, Ordering::SeqCst);
    let reads: u64 = ts.into_iter().map(|t| t.join().unwrap()).sum();
    assert!(reads > 4, "readers made only {reads} grants");
    assert!(waited < Duration::from_secs(3), "writer waited {waited:?}");
}

#[test]
fn reader_is_not_starved_by_looping_writers() {
    let dir = TempDir::new("rpref");
    let path = dir.lock_path();
    let stop = Arc::new(AtomicBool::new(false));
    let writes = Arc::new(AtomicU64::new(0));
    let mut ts = vec![];
    for _ in 0..3 {
        let (path, stop, writes) = (path.clone(), stop.clone(), writes.clone());
        ts.push(std::thread::spawn(move || {
            let l = open(&path, &fast());
            while !stop.load(Ordering::SeqCst) {
                if l.acquire(Mode::Write, 0.5).is_ok() {
                    writes.fetch_add(1, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_millis(10));
                    l.release().unwrap();
                }
            }
        }));
    }
    // Let the writers get going (generous bound for a loaded machine).
    let t0 = Instant::now();
    while writes.load(Ordering::SeqCst) <= 5 && t0.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(10));
    }
    let r = open(&path, &fast());
    let before = writes.load(Ordering::SeqCst);
    r.acquire(Mode::Read, 10.0).unwrap();
    let during = writes.load(Ordering::SeqCst) - before;
    r.release().unwrap();
    stop.store(true, Ordering::SeqCst);
    for t in ts {
        t.join().unwrap();
    }
    assert!(before > 5, "writers made only {before} grants");
    assert!(during <= 8, "reader waited {during} write cycles");
}

/// The baton is rewritten in place at every take and cut to length only when its previous
/// content may differ in length. Two handles whose records differ in length (their stale
/// thresholds have different numbers of digits) take it in turns: each time, the held baton
/// must hold exactly its holder's record, parseable, with the holder's lease. A leftover tail
/// would make the record unreadable, and observers would evict a live writer.
#[test]
fn held_baton_carries_exactly_its_holders_record() {
    let dir = TempDir::new("batonrec");
    let path = dir.lock_path();
    let short = fast(); // lease_ms 600
    let long = softrwlock::Options {
        stale_threshold: 10.0, // lease_ms 10000
        ..fast()
    };
    let a = open(&path, &short);
    let b = open(&path, &long);
    let q = dir.0.join("lock.srwl").join("Q");
    for (round, (l, lease)) in [
        (&a, 600),
        (&a, 600),
        (&b, 10000),
        (&a, 600),
        (&b, 10000),
        (&b, 10000),
        (&a, 600),
    ]
    .into_iter()
    .enumerate()
    {
        assert_eq!(l.acquire(Mode::Write, 10.0), Ok(()));
        let gen = l.generation().unwrap();
        let held: Vec<String> = entries(&q)
            .into_iter()
            .filter(|n| n.starts_with("b."))
            .collect();
        assert_eq!(
            held.len(),
            1,
            "round {round}: one held baton in {q:?}: {held:?}"
        );
        assert!(
            held[0].starts_with(&format!("b.{gen:016x}.")),
            "round {round}: held baton {} is not generation {gen}",
            held[0]
        );
        let bytes = std::fs::read(q.join(&held[0])).unwrap();
        let rec = softrwlock::record::Record::parse(&bytes).unwrap_or_else(|| {
            panic!(
                "round {round}: held baton does not parse: {:?}",
                String::from_utf8_lossy(&bytes)
            )
        });
        assert_eq!(rec.role, Role::Write, "round {round}");
        assert_eq!(rec.lease_ms, lease, "round {round}");
        assert!(
            held[0].ends_with(rec.token.as_str()),
            "round {round}: the record in {} names token {}",
            held[0],
            rec.token.as_str()
        );
        assert_eq!(l.release(), Ok(()));
    }
}

/// A handle that takes the baton back right after its own release writes nothing into it
/// (it still holds the handle's record). Its heartbeat must still change the baton's bytes
/// within an interval or two, or observers would judge a live writer dead.
#[test]
fn retaken_baton_is_refreshed_by_its_heartbeat() {
    let dir = TempDir::new("retake");
    let path = dir.lock_path();
    let l = open(&path, &fast()); // heartbeat 0.1 s
    let q = dir.0.join("lock.srwl").join("Q");
    let held = || -> (String, Vec<u8>) {
        let n: Vec<String> = entries(&q)
            .into_iter()
            .filter(|n| n.starts_with("b."))
            .collect();
        assert_eq!(n.len(), 1, "one held baton in {q:?}: {n:?}");
        let bytes = std::fs::read(q.join(&n[0])).unwrap();
        (n[0].clone(), bytes)
    };
    assert_eq!(l.acquire(Mode::Write, 10.0), Ok(()));
    let (first_name, first) = held();
    assert_eq!(l.release(), Ok(()));
    assert_eq!(l.acquire(Mode::Write, 10.0), Ok(()));
    let (name, taken) = held();
    assert_ne!(name, first_name, "a new take has a new name");
    // Same handle, same record: the take needed no write.
    let a = softrwlock::record::Record::parse(&first).unwrap();
    let b = softrwlock::record::Record::parse(&taken).unwrap();
    assert_eq!((a.token, a.pid, a.lease_ms), (b.token, b.pid, b.lease_ms));
    std::thread::sleep(std::time::Duration::from_millis(350));
    let (_, later) = held();
    assert_ne!(
        later, taken,
        "the heartbeat did not change the retaken baton in 3 intervals"
    );
    assert!(softrwlock::record::Record::parse(&later).is_some());
    assert_eq!(l.release(), Ok(()));
}
