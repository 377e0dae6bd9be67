//! lbbench: a leaderboard of N elements (default a million) on Ferrite, asked one request at a
//! time, and the same sorted set on redis-server beside it.
//!
//! ```text
//! lbbench --grpc http://127.0.0.1:50051 --ferrite-resp 127.0.0.1:6379 [--redis 127.0.0.1:7777]
//!         [--elements 1000000] [--iters 20000] [--page 10]
//! ```
//!
//! 1. Fills leaderboard `lb` in cache `default` with UpsertElements calls of 8192 elements (ids
//!    0..N, scores from a fixed hash of the id), and redis-server's zset `leaderboard:lb` with the
//!    same members and scores (ZADD batches).
//! 2. Sequential (one request in flight, loopback, so each figure includes a round trip):
//!    gRPC GetRank (one random id), GetByRank (a random page of `page` ranks), GetCompetitionRank
//!    (one id), UpsertElements (one element, a new score); RESP ZREVRANK and ZREVRANGE of a
//!    random page on both servers. Each group starts with an O(1) call on the same path
//!    (GetLeaderboardLength, ZCARD): the floor the round trip and the protocol set, so what a
//!    rank costs is the difference.
//!
//! Output: one line per measurement: name, p50/p99/p99.9 in µs, requests per second.

use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use momento_protos::leaderboard::leaderboard_client::LeaderboardClient;
use momento_protos::leaderboard::*;
use tonic::transport::Channel;

struct Args {
    grpc: String,
    ferrite_resp: String,
    redis: Option<String>,
    elements: u32,
    iters: u32,
    page: u32,
}

fn args() -> Args {
    let mut a = Args {
        grpc: "http://127.0.0.1:50051".into(),
        ferrite_resp: "127.0.0.1:6379".into(),
        redis: None,
        elements: 1_000_000,
        iters: 20_000,
        page: 10,
    };
    let mut it = std::env::args().skip(1);
    while let Some(f) = it.next() {
        let v = it.next().expect("every flag takes a value");
        match f.as_str() {
            "--grpc" => a.grpc = v,
            "--ferrite-resp" => a.ferrite_resp = v,
            "--redis" => a.redis = Some(v),
            "--elements" => a.elements = v.parse().unwrap(),
            "--iters" => a.iters = v.parse().unwrap(),
            "--page" => a.page = v.parse().unwrap(),
            _ => panic!("unknown flag {f}"),
        }
    }
    a
}

/// A fixed pseudo-random sequence (xorshift), so runs are comparable.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u32) -> u32 {
        (self.next() % u64::from(n)) as u32
    }
}

fn score(id: u32) -> f64 {
    // Scores 0..100000 with many ties, as game scores have.
    f64::from(id.wrapping_mul(2_654_435_761) % 100_000)
}

fn req<T>(msg: T) -> tonic::Request<T> {
    let mut r = tonic::Request::new(msg);
    r.metadata_mut().insert("cache", "default".parse().unwrap());
    r.metadata_mut()
        .insert("authorization", "local-dev".parse().unwrap());
    r
}

fn report(name: &str, h: &Histogram<u64>, took: Duration) {
    println!(
        "{name:<44} p50 {:>6.1} µs  p99 {:>6.1} µs  p99.9 {:>7.1} µs  {:>8.0} req/s",
        h.value_at_quantile(0.5) as f64,
        h.value_at_quantile(0.99) as f64,
        h.value_at_quantile(0.999) as f64,
        h.len() as f64 / took.as_secs_f64()
    );
}

async fn timed<F, Fut>(iters: u32, mut f: F) -> (Histogram<u64>, Duration)
where
    F: FnMut(u32) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut h = Histogram::<u64>::new(3).unwrap();
    let start = Instant::now();
    for i in 0..iters {
        let t = Instant::now();
        f(i).await;
        h.record(t.elapsed().as_micros() as u64).unwrap();
    }
    (h, start.elapsed())
}

async fn fill_grpc(c: &mut LeaderboardClient<Channel>, n: u32) {
    let t = Instant::now();
    let mut id = 0;
    while id < n {
        let end = (id + 8192).min(n);
        let elements = (id..end).map(|i| Element { id: i, score: score(i) }).collect();
        c.upsert_elements(req(UpsertElementsRequest {
            leaderboard: "lb".into(),
            elements,
        }))
        .await
        .expect("upsert");
        id = end;
    }
    let len = c
        .get_leaderboard_length(req(GetLeaderboardLengthRequest {
            leaderboard: "lb".into(),
        }))
        .await
        .unwrap()
        .into_inner()
        .count;
    assert_eq!(len, n);
    println!(
        "ferrite gRPC fill: {n} elements in {:.2} s ({:.0} elements/s)",
        t.elapsed().as_secs_f64(),
        f64::from(n) / t.elapsed().as_secs_f64()
    );
}

async fn fill_redis(c: &mut redis::aio::MultiplexedConnection, n: u32) {
    let t = Instant::now();
    let _: () = redis::cmd("DEL").arg("leaderboard:lb").query_async(c).await.unwrap();
    let mut id = 0;
    while id < n {
        let end = (id + 8192).min(n);
        let mut cmd = redis::cmd("ZADD");
        cmd.arg("leaderboard:lb");
        for i in id..end {
            cmd.arg(score(i)).arg(i);
        }
        let _: i64 = cmd.query_async(c).await.unwrap();
        id = end;
    }
    println!(
        "redis-server ZADD fill: {n} elements in {:.2} s",
        t.elapsed().as_secs_f64()
    );
}

async fn resp_suite(label: &str, c: &mut redis::aio::MultiplexedConnection, a: &Args) {
    let n = a.elements;
    let (h, took) = timed(a.iters, |_| {
        let mut c = c.clone();
        async move {
            let len: u32 = redis::cmd("ZCARD")
                .arg("leaderboard:lb")
                .query_async(&mut c)
                .await
                .unwrap();
            assert_eq!(len, n);
        }
    })
    .await;
    report(&format!("{label} ZCARD (floor)"), &h, took);
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let (h, took) = timed(a.iters, |_| {
        let id = rng.below(n);
        let mut c = c.clone();
        async move {
            let r: Option<i64> = redis::cmd("ZREVRANK")
                .arg("leaderboard:lb")
                .arg(id)
                .query_async(&mut c)
                .await
                .unwrap();
            assert!(r.is_some());
        }
    })
    .await;
    report(&format!("{label} ZREVRANK (1 member)"), &h, took);
    let mut rng = Rng(0x2545_F491_4F6C_DD1D);
    let page = a.page;
    let (h, took) = timed(a.iters, |_| {
        let start = rng.below(n - page);
        let mut c = c.clone();
        async move {
            let r: Vec<String> = redis::cmd("ZREVRANGE")
                .arg("leaderboard:lb")
                .arg(start)
                .arg(start + page - 1)
                .arg("WITHSCORES")
                .query_async(&mut c)
                .await
                .unwrap();
            assert_eq!(r.len() as u32, 2 * page);
        }
    })
    .await;
    report(
        &format!("{label} ZREVRANGE (random page of {page})"),
        &h,
        took,
    );
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let a = args();
    let n = a.elements;
    let ch = Channel::from_shared(a.grpc.clone())
        .unwrap()
        .connect()
        .await
        .expect("gRPC connects");
    let mut g = LeaderboardClient::new(ch)
        .max_decoding_message_size(64 << 20)
        .max_encoding_message_size(64 << 20);
    fill_grpc(&mut g, n).await;

    // The floor: an O(1) call through the same path (admission, metering, the key's lock).
    let (h, took) = timed(a.iters, |_| {
        let mut g = g.clone();
        async move {
            g.get_leaderboard_length(req(GetLeaderboardLengthRequest {
                leaderboard: "lb".into(),
            }))
            .await
            .unwrap();
        }
    })
    .await;
    report("ferrite gRPC GetLeaderboardLength (floor)", &h, took);

    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let (h, took) = timed(a.iters, |_| {
        let id = rng.below(n);
        let mut g = g.clone();
        async move {
            let r = g
                .get_rank(req(GetRankRequest {
                    leaderboard: "lb".into(),
                    ids: vec![id],
                    order: Order::Descending as i32,
                }))
                .await
                .unwrap()
                .into_inner();
            assert_eq!(r.elements.len(), 1);
        }
    })
    .await;
    report("ferrite gRPC GetRank (1 id)", &h, took);

    let mut rng = Rng(0x2545_F491_4F6C_DD1D);
    let page = a.page;
    let (h, took) = timed(a.iters, |_| {
        let start = rng.below(n - page);
        let mut g = g.clone();
        async move {
            let r = g
                .get_by_rank(req(GetByRankRequest {
                    leaderboard: "lb".into(),
                    rank_range: Some(RankRange {
                        start_inclusive: start,
                        end_exclusive: start + page,
                    }),
                    order: Order::Descending as i32,
                }))
                .await
                .unwrap()
                .into_inner();
            assert_eq!(r.elements.len() as u32, page);
        }
    })
    .await;
    report(&format!("ferrite gRPC GetByRank (random page of {page})"), &h, took);

    let mut rng = Rng(0x1234_5678_9ABC_DEF1);
    let (h, took) = timed(a.iters, |_| {
        let id = rng.below(n);
        let mut g = g.clone();
        async move {
            let r = g
                .get_competition_rank(req(GetCompetitionRankRequest {
                    leaderboard: "lb".into(),
                    ids: vec![id],
                    order: None,
                }))
                .await
                .unwrap()
                .into_inner();
            assert_eq!(r.elements.len(), 1);
        }
    })
    .await;
    report("ferrite gRPC GetCompetitionRank (1 id)", &h, took);

    let mut rng = Rng(0x0F0F_F0F0_1234_4321);
    let (h, took) = timed(a.iters, |_| {
        let id = rng.below(n);
        let s = rng.below(100_000);
        let mut g = g.clone();
        async move {
            g.upsert_elements(req(UpsertElementsRequest {
                leaderboard: "lb".into(),
                elements: vec![Element {
                    id,
                    score: f64::from(s),
                }],
            }))
            .await
            .unwrap();
        }
    })
    .await;
    report("ferrite gRPC UpsertElements (1 element)", &h, took);

    let fr = redis::Client::open(format!("redis://{}/", a.ferrite_resp)).unwrap();
    let mut fc = fr.get_multiplexed_async_connection().await.unwrap();
    resp_suite("ferrite RESP", &mut fc, &a).await;
    if let Some(addr) = &a.redis {
        let rr = redis::Client::open(format!("redis://{addr}/")).unwrap();
        let mut rc = rr.get_multiplexed_async_connection().await.unwrap();
        fill_redis(&mut rc, n).await;
        resp_suite("redis-server", &mut rc, &a).await;
    }
}
