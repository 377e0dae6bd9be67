//! Issue 7: warm GET, SET and PUBLISH allocate nothing on the server.
//!
//! This binary installs a counting global allocator. The server runs in-process on its own
//! thread with a current-thread tokio runtime (what `ferrite serve` runs with one worker), and
//! only allocations made on that thread are counted, so the client (plain blocking sockets on
//! the test thread) and the server's side threads (admin port, expiry) do not disturb the
//! figure. After a warm-up that lets every buffer reach its working size, a window of many
//! pipelined rounds must allocate nothing at all: a per-request allocation would show up as
//! at least one per round.

// A global allocator is `unsafe` by definition; this one only counts and forwards to `System`.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::Duration;

mod common;

struct Counting;

static SERVER_ALLOCS: AtomicU64 = AtomicU64::new(0);

thread_local! {
    // `const` thread-locals need no lazy initialisation, so reading one inside the allocator
    // cannot itself allocate.
    static COUNTED: Cell<bool> = const { Cell::new(false) };
}

fn note() {
    if COUNTED.with(|c| c.get()) {
        SERVER_ALLOCS.fetch_add(1, Ordering::Relaxed);
    }
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note();
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note();
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note();
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Start the server on a thread of its own whose allocations are counted; returns its RESP
/// address. The thread lives until the test process exits.
fn start_counted_server() -> SocketAddr {
    let (tx, rx) = mpsc::channel();
    std::thread::Builder::new()
        .name("counted-server".into())
        .spawn(move || {
            COUNTED.with(|c| c.set(true));
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                let mut cfg = common::test_config();
                // The active expiry tick hands its work to a blocking thread (a task allocation
                // every 100 ms): background work, not the request path, so it is kept out of
                // the measured window.
                cfg.expiry.active_expire_interval_ms = 3_600_000;
                let running = ferrite::server::Running::start(cfg)
                    .await
                    .expect("server starts");
                tx.send(running.resp_addr).expect("test waits");
                running.wait().await;
            });
        })
        .expect("spawn");
    rx.recv_timeout(Duration::from_secs(30)).expect("server up")
}

fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).expect("connect");
    s.set_nodelay(true).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s
}

/// Read exactly `want.len()` bytes and check they are `want` (the buffer is preallocated).
fn expect_bytes(s: &mut TcpStream, buf: &mut [u8], want: &[u8]) {
    let got = &mut buf[..want.len()];
    s.read_exact(got).expect("reply");
    assert_eq!(
        String::from_utf8_lossy(got),
        String::from_utf8_lossy(want),
        "unexpected reply bytes"
    );
}

/// A pipeline of commands and the exact bytes the server answers with.
#[derive(Default)]
struct Round {
    commands: Vec<u8>,
    replies: Vec<u8>,
    /// What the subscriber receives per round.
    deliveries: Vec<u8>,
}

impl Round {
    fn set_get(&mut self, i: usize) {
        self.set(i);
        self.get(i);
    }
    fn set(&mut self, i: usize) {
        let (key, value) = (format!("key:{i:04}"), format!("{i:032}"));
        self.commands.extend_from_slice(
            format!(
                "*3\r\n$3\r\nSET\r\n${}\r\n{key}\r\n$32\r\n{value}\r\n",
                key.len()
            )
            .as_bytes(),
        );
        self.replies.extend_from_slice(b"+OK\r\n");
    }
    fn get(&mut self, i: usize) {
        let (key, value) = (format!("key:{i:04}"), format!("{i:032}"));
        self.commands.extend_from_slice(
            format!("*2\r\n$3\r\nGET\r\n${}\r\n{key}\r\n", key.len()).as_bytes(),
        );
        self.replies
            .extend_from_slice(format!("$32\r\n{value}\r\n").as_bytes());
    }
    fn get_missing(&mut self) {
        self.commands
            .extend_from_slice(b"*2\r\n$3\r\nGET\r\n$7\r\nmissing\r\n");
        self.replies.extend_from_slice(b"$-1\r\n");
    }
    fn publish(&mut self) {
        self.commands.extend_from_slice(
            b"*3\r\n$7\r\nPUBLISH\r\n$5\r\nnews1\r\n$16\r\nhello subscriber\r\n",
        );
        self.replies.extend_from_slice(b":1\r\n");
        self.deliveries.extend_from_slice(
            b"*3\r\n$7\r\nmessage\r\n$5\r\nnews1\r\n$16\r\nhello subscriber\r\n",
        );
    }
}

struct Clients {
    client: TcpStream,
    subscriber: TcpStream,
    buf: Vec<u8>,
}

impl Clients {
    fn run(&mut self, round: &Round, rounds: usize) {
        for _ in 0..rounds {
            self.client.write_all(&round.commands).unwrap();
            expect_bytes(&mut self.client, &mut self.buf, &round.replies);
            if !round.deliveries.is_empty() {
                expect_bytes(&mut self.subscriber, &mut self.buf, &round.deliveries);
            }
        }
    }
    /// Server allocations in `rounds` rounds, after a warm-up of the same rounds.
    fn allocations(&mut self, round: &Round, rounds: usize) -> u64 {
        self.run(round, 2 * rounds);
        let before = SERVER_ALLOCS.load(Ordering::Relaxed);
        self.run(round, rounds);
        SERVER_ALLOCS.load(Ordering::Relaxed) - before
    }
}

#[test]
fn warm_get_set_and_publish_allocate_nothing_on_the_server() {
    let addr = start_counted_server();
    let mut c = Clients {
        client: connect(addr),
        subscriber: connect(addr),
        buf: vec![0u8; 64 * 1024],
    };
    c.subscriber
        .write_all(b"*2\r\n$9\r\nSUBSCRIBE\r\n$5\r\nnews1\r\n")
        .unwrap();
    expect_bytes(
        &mut c.subscriber,
        &mut c.buf,
        b"*3\r\n$9\r\nsubscribe\r\n$5\r\nnews1\r\n:1\r\n",
    );

    let rounds = 1_000;
    let mut sets = Round::default();
    let mut gets = Round::default();
    let mut publishes = Round::default();
    let mut mixed = Round::default();
    for i in 0..8 {
        sets.set(i);
        gets.get(i);
        publishes.publish();
        mixed.set_get(i);
    }
    gets.get_missing();
    mixed.get_missing();
    mixed.publish();
    let mut failures = Vec::new();
    for (name, round) in [
        ("8 SET (same-size overwrites)", &sets),
        ("8 GET hits + 1 miss", &gets),
        ("8 PUBLISH to one subscriber", &publishes),
        ("8 SET + 9 GET + 1 PUBLISH", &mixed),
    ] {
        let n = c.allocations(round, rounds);
        eprintln!("{name}: {n} allocations in {rounds} warm rounds");
        if n != 0 {
            failures.push(format!("{name}: {n} allocations in {rounds} rounds"));
        }
    }
    assert!(failures.is_empty(), "server thread allocated: {failures:?}");
}
