//! Momento leaderboards (`leaderboard.Leaderboard`, issue 16) through the official Rust SDK's
//! `LeaderboardClient`, the HTTP API (`/leaderboards/...`) and RESP: the scenarios of the SDKs' public integration tests (upsert and update,
//! fetch by score with offset/count/order and whole-leaderboard ranks, fetch by rank both ways,
//! ranks, length, remove, delete, their validation errors), competition ranks with ties, the
//! same data as a sorted set over RESP, scoped tokens, and a raw `momento-protos` client for
//! what the SDK validates before sending (NaN and infinite scores, limit_elements).

mod common;
mod grpc_util;

use common::http::{expect_error, json_of};
use common::tokens::TokenServer;
use common::{q, TestServer};
use ferrite_auth::{CacheGrant, CacheRole, Permissions, Selector};
use grpc_util::*;
use momento::leaderboard::configurations::Laptop;
use momento::leaderboard::{
    FetchByRankRequest, FetchByScoreRequest, GetRankRequest, Order, RankRange, ScoreRange,
};
use momento::{CredentialProvider, Leaderboard, LeaderboardClient, MomentoErrorCode};
use momento_protos::leaderboard as lbp;
use momento_protos::leaderboard::leaderboard_client::LeaderboardClient as RawLeaderboard;

const C: &str = "default";

fn client_with(creds: CredentialProvider) -> LeaderboardClient {
    LeaderboardClient::builder()
        .configuration(Laptop::latest())
        .credential_provider(creds)
        .build()
        .expect("leaderboard client builds")
}

fn board(srv: &TestServer, name: &str) -> Leaderboard {
    client_with(creds(srv.grpc_addr())).leaderboard(C, name)
}

/// (id, score, rank) of each element, in the order answered.
fn triples(r: momento::leaderboard::messages::data::fetch::FetchResponse) -> Vec<(u32, f64, u32)> {
    r.into_elements()
        .into_iter()
        .map(|e| (e.id, e.score, e.rank))
        .collect()
}

fn invalid<T: std::fmt::Debug>(r: momento::MomentoResult<T>) -> String {
    let e = r.expect_err("expected INVALID_ARGUMENT");
    assert_eq!(
        e.error_code,
        MomentoErrorCode::InvalidArgumentError,
        "{e:?}"
    );
    // The SDK's message is generic; the server's own is in the inner error.
    format!("{e:?}")
}

#[tokio::test]
async fn upsert_inserts_and_updates_and_fetch_by_score_ranks_the_whole_board() {
    let srv = TestServer::start().await;
    let lb = board(&srv, "upserts");
    lb.upsert([(123, 100.0), (456, 200.0), (789, 300.0)])
        .await
        .unwrap();
    lb.upsert([(1234, 800.0), (5678, 900.0)]).await.unwrap();
    lb.upsert([(123, 500.0), (456, 600.0), (789, 700.0)])
        .await
        .unwrap();
    let all = lb.fetch_by_score(ScoreRange::unbounded()).await.unwrap();
    assert_eq!(
        triples(all),
        [
            (123, 500.0, 0),
            (456, 600.0, 1),
            (789, 700.0, 2),
            (1234, 800.0, 3),
            (5678, 900.0, 4)
        ]
    );
    assert_eq!(lb.len().await.unwrap().length(), 5);

    // The SDK suite's by-score cases: ranks are the elements' ranks in the whole leaderboard.
    let lb = board(&srv, "by-score");
    lb.upsert([
        (123, 10.0),
        (234, 100.0),
        (345, 250.0),
        (456, 500.0),
        (567, 750.0),
        (678, 1000.0),
        (789, 1500.0),
        (890, 2000.0),
    ])
    .await
    .unwrap();
    let page = lb
        .send_request(
            FetchByScoreRequest::new(ScoreRange::unbounded())
                .offset(2)
                .count(2),
        )
        .await
        .unwrap();
    assert_eq!(triples(page), [(345, 250.0, 2), (456, 500.0, 3)]);
    let range = lb.fetch_by_score(750.0..1500.0).await.unwrap();
    assert_eq!(triples(range), [(567, 750.0, 4), (678, 1000.0, 5)]);
    let desc = lb
        .send_request(
            FetchByScoreRequest::new(0.0..800.0)
                .offset(2)
                .count(10)
                .order(Order::Descending),
        )
        .await
        .unwrap();
    assert_eq!(
        triples(desc),
        [(345, 250.0, 5), (234, 100.0, 6), (123, 10.0, 7)]
    );
    let past_the_end = lb
        .send_request(FetchByScoreRequest::new(ScoreRange::unbounded()).offset(10))
        .await
        .unwrap();
    assert!(past_the_end.elements().is_empty());
    let msg = invalid(lb.fetch_by_score(100.0..50.0).await);
    assert!(msg.contains("minimum"), "{msg}");
}

#[tokio::test]
async fn fetch_by_rank_both_ways_and_its_range_rules() {
    let srv = TestServer::start().await;
    let lb = board(&srv, "by-rank");
    assert!(
        lb.fetch_by_rank(0..100)
            .await
            .unwrap()
            .elements()
            .is_empty(),
        "a leaderboard that does not exist reads as empty"
    );
    lb.upsert([(123, 100.0), (456, 200.0), (789, 300.0)])
        .await
        .unwrap();
    let asc = lb.fetch_by_rank(0..10).await.unwrap();
    assert_eq!(
        triples(asc),
        [(123, 100.0, 0), (456, 200.0, 1), (789, 300.0, 2)]
    );
    let desc = lb
        .send_request(FetchByRankRequest::new(0..10).order(Order::Descending))
        .await
        .unwrap();
    assert_eq!(
        triples(desc),
        [(789, 300.0, 0), (456, 200.0, 1), (123, 100.0, 2)]
    );
    let top_two = lb.fetch_by_rank(0..2).await.unwrap();
    assert_eq!(triples(top_two), [(123, 100.0, 0), (456, 200.0, 1)]);
    let middle = lb
        .send_request(FetchByRankRequest::new(1..2).order(Order::Descending))
        .await
        .unwrap();
    assert_eq!(triples(middle), [(456, 200.0, 1)]);
    // Empty, reversed and wider than 8192 ranks.
    for (start, end) in [(0, 0), (10, 5), (0, 8193)] {
        invalid(lb.fetch_by_rank(RankRange::from(start..end)).await);
    }
    assert_eq!(lb.fetch_by_rank(1..8193).await.unwrap().elements().len(), 2);
}

#[tokio::test]
async fn ranks_length_remove_and_delete() {
    let srv = TestServer::start().await;
    let lb = board(&srv, "ranks");
    assert!(lb.get_rank([123]).await.unwrap().elements().is_empty());
    assert_eq!(lb.len().await.unwrap().length(), 0);
    lb.remove_elements([123])
        .await
        .expect("removing from a leaderboard that does not exist succeeds");
    lb.delete()
        .await
        .expect("deleting a leaderboard that does not exist succeeds");

    lb.upsert([(123, 100.0), (456, 200.0), (789, 300.0)])
        .await
        .unwrap();
    let asc = lb
        .send_request(GetRankRequest::new([789, 999, 123]).order(Order::Ascending))
        .await
        .unwrap();
    assert_eq!(
        triples(asc),
        [(789, 300.0, 2), (123, 100.0, 0)],
        "in the order asked, absent ids left out"
    );
    let desc = lb
        .send_request(GetRankRequest::new([123, 789]).order(Order::Descending))
        .await
        .unwrap();
    assert_eq!(triples(desc), [(123, 100.0, 2), (789, 300.0, 0)]);

    invalid(lb.remove_elements(Vec::<u32>::new()).await);
    invalid(lb.upsert(Vec::<(u32, f64)>::new()).await);
    invalid(lb.upsert((0..8193u32).map(|i| (i, 1.0))).await);
    lb.remove_elements([123, 789]).await.unwrap();
    assert_eq!(
        triples(lb.fetch_by_score(ScoreRange::unbounded()).await.unwrap()),
        [(456, 200.0, 0)]
    );
    lb.delete().await.unwrap();
    assert_eq!(lb.len().await.unwrap().length(), 0);
}

#[tokio::test]
async fn competition_ranks_share_a_rank_between_equal_scores() {
    let srv = TestServer::start().await;
    let lb = board(&srv, "competition");
    lb.upsert([(1, 100.0), (2, 200.0), (3, 200.0), (4, 300.0), (5, 50.0)])
        .await
        .unwrap();
    // Descending by default: 300 first, the two 200s share rank 1, 100 is rank 3.
    let desc = lb.get_competition_rank([1, 2, 3, 4, 5, 6]).await.unwrap();
    assert_eq!(
        triples(desc),
        [
            (1, 100.0, 3),
            (2, 200.0, 1),
            (3, 200.0, 1),
            (4, 300.0, 0),
            (5, 50.0, 4)
        ]
    );
    let asc = lb
        .send_request(
            momento::leaderboard::messages::data::get_competition_rank::GetCompetitionRankRequest::new(
                [2, 3, 4, 5],
            )
            .order(Order::Ascending),
        )
        .await
        .unwrap();
    assert_eq!(
        triples(asc),
        [(2, 200.0, 2), (3, 200.0, 2), (4, 300.0, 4), (5, 50.0, 0)]
    );
}

#[tokio::test]
async fn a_leaderboard_is_a_sorted_set_on_resp() {
    let srv = TestServer::start().await;
    let lb = board(&srv, "season1");
    lb.upsert([(7, 10.0), (42, 30.0), (9, 20.0)]).await.unwrap();
    let mut r = srv.client().await;
    let top: Vec<(String, f64)> = q(
        &mut r,
        &["ZREVRANGE", "leaderboard:season1", "0", "-1", "WITHSCORES"],
    )
    .await
    .unwrap();
    assert_eq!(
        top,
        [
            ("42".to_string(), 30.0),
            ("9".to_string(), 20.0),
            ("7".to_string(), 10.0)
        ]
    );
    let t: String = q(&mut r, &["TYPE", "leaderboard:season1"]).await.unwrap();
    assert_eq!(t, "zset");
    // RESP writes are leaderboard writes: ZINCRBY moves element 7 to the top.
    let _: f64 = q(&mut r, &["ZINCRBY", "leaderboard:season1", "25", "7"])
        .await
        .unwrap();
    let _: i64 = q(&mut r, &["ZADD", "leaderboard:season1", "5", "1000"])
        .await
        .unwrap();
    let ranks = lb
        .send_request(GetRankRequest::new([7, 1000]).order(Order::Descending))
        .await
        .unwrap();
    assert_eq!(triples(ranks), [(7, 35.0, 0), (1000, 5.0, 3)]);
    // A member that is not an element id: fetching it is a clear error, not a wrong id.
    let _: i64 = q(&mut r, &["ZADD", "leaderboard:season1", "1", "alice"])
        .await
        .unwrap();
    let e = lb.fetch_by_rank(0..10).await.expect_err("not an id");
    assert_eq!(
        e.error_code,
        MomentoErrorCode::FailedPreconditionError,
        "{e:?}"
    );
    assert!(format!("{e:?}").contains("alice"), "{e:?}");
    // ... while the ranks of real ids still answer.
    assert_eq!(lb.len().await.unwrap().length(), 5);
    // A cache item of another type at the leaderboard's key is a type error.
    let _: () = q(&mut r, &["SET", "leaderboard:text", "x"]).await.unwrap();
    let e = board(&srv, "text").len().await.expect_err("wrong type");
    assert_eq!(
        e.error_code,
        MomentoErrorCode::FailedPreconditionError,
        "{e:?}"
    );
}

async fn raw(srv: &TestServer) -> RawLeaderboard<tonic::transport::Channel> {
    RawLeaderboard::new(channel(srv.grpc_addr()).await)
}

#[tokio::test]
async fn raw_requests_the_sdk_would_refuse() {
    let srv = TestServer::start().await;
    let mut c = raw(&srv).await;
    for score in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        let e = c
            .upsert_elements(in_cache(
                C,
                lbp::UpsertElementsRequest {
                    leaderboard: "raw".into(),
                    elements: vec![lbp::Element { id: 1, score }],
                },
            ))
            .await
            .expect_err("non-finite score");
        assert_eq!(e.code(), tonic::Code::InvalidArgument, "{score}: {e:?}");
    }
    let e = c
        .get_leaderboard_length(in_cache(
            C,
            lbp::GetLeaderboardLengthRequest {
                leaderboard: " ".into(),
            },
        ))
        .await
        .expect_err("blank name");
    assert_eq!(e.code(), tonic::Code::InvalidArgument);
    let e = c
        .get_by_rank(in_cache(
            C,
            lbp::GetByRankRequest {
                leaderboard: "raw".into(),
                rank_range: None,
                order: 0,
            },
        ))
        .await
        .expect_err("no rank range");
    assert_eq!(e.code(), tonic::Code::InvalidArgument);
    let elements = (0..9000u32)
        .map(|id| lbp::Element {
            id,
            score: f64::from(id % 100),
        })
        .collect::<Vec<_>>();
    for chunk in elements.chunks(4500) {
        c.upsert_elements(in_cache(
            C,
            lbp::UpsertElementsRequest {
                leaderboard: "raw".into(),
                elements: chunk.to_vec(),
            },
        ))
        .await
        .unwrap();
    }
    let by_score = |limit_elements, offset| {
        in_cache(
            C,
            lbp::GetByScoreRequest {
                leaderboard: "raw".into(),
                score_range: None,
                offset,
                limit_elements,
                order: 0,
            },
        )
    };
    let all = c.get_by_score(by_score(0, 0)).await.unwrap().into_inner();
    assert_eq!(all.elements.len(), 8192, "limit 0 means Momento's maximum");
    let tail = c
        .get_by_score(by_score(0, 8192))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(tail.elements.len(), 9000 - 8192);
    assert_eq!(tail.elements[0].rank, 8192);
    let e = c
        .get_by_score(by_score(8193, 0))
        .await
        .expect_err("over the limit");
    assert_eq!(e.code(), tonic::Code::InvalidArgument);
    let e = c
        .get_rank(in_cache(
            C,
            lbp::GetRankRequest {
                leaderboard: "raw".into(),
                ids: vec![],
                order: 0,
            },
        ))
        .await
        .expect_err("no ids");
    assert_eq!(e.code(), tonic::Code::InvalidArgument);
}

#[tokio::test]
async fn tokens_reach_a_leaderboard_through_its_key() {
    let s = TokenServer::start(&[]).await;
    let grant = |role, prefix: &str| Permissions::Explicit {
        caches: vec![CacheGrant {
            role,
            cache: Some(C.into()),
            items: Selector::Prefix(prefix.into()),
        }],
        topics: vec![],
    };
    let creds = |token: &str| {
        CredentialProvider::from_disposable_token(token)
            .unwrap()
            .insecure_endpoint_override(&s.srv.grpc_endpoint())
    };
    let owner = client_with(creds(
        &s.mint_v1("owner", grant(CacheRole::ReadWrite, "leaderboard:")),
    ))
    .leaderboard(C, "scoped");
    owner.upsert([(1, 1.0), (2, 2.0)]).await.unwrap();

    let reader = client_with(creds(
        &s.mint_v1("reader", grant(CacheRole::ReadOnly, "leaderboard:sc")),
    ))
    .leaderboard(C, "scoped");
    assert_eq!(reader.len().await.unwrap().length(), 2);
    let e = reader.upsert([(3, 3.0)]).await.expect_err("read-only");
    assert_eq!(e.error_code, MomentoErrorCode::PermissionError, "{e:?}");

    let items_only = client_with(creds(
        &s.mint_v1("items", grant(CacheRole::ReadWrite, "scoped")),
    ))
    .leaderboard(C, "scoped");
    let e = items_only
        .len()
        .await
        .expect_err("not the leaderboard's key");
    assert_eq!(e.error_code, MomentoErrorCode::PermissionError, "{e:?}");
}

#[tokio::test]
async fn the_http_api_serves_the_same_leaderboards() {
    use reqwest::StatusCode;
    let srv = TestServer::start().await;
    let http = reqwest::Client::new();
    let url = |path: &str| {
        format!(
            "http://{}/leaderboards/default/{path}",
            srv.running.http_addr
        )
    };
    let put = http
        .put(url("web"))
        .json(&serde_json::json!({"elements": [
            {"id": 1, "score": 10.0}, {"id": 2, "score": 20.0}, {"id": 3, "score": 20.0}, {"id": 4, "score": 40.0}
        ]}))
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), StatusCode::NO_CONTENT);
    let v = json_of(http.get(url("web/length")).send().await.unwrap()).await;
    assert_eq!(v["length"], 4);
    let v = json_of(
        http.get(url("web?start=0&end=2&order=desc"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        v["elements"],
        serde_json::json!([{"id": 4, "score": 40.0, "rank": 0}, {"id": 3, "score": 20.0, "rank": 1}])
    );
    let v = json_of(http.get(url("web?min=15&max=40")).send().await.unwrap()).await;
    let ids: Vec<u64> = v["elements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_u64().unwrap())
        .collect();
    assert_eq!(ids, [2, 3]);
    let v = json_of(
        http.get(url("web/ranks?ids=3,2,9&ranking=competition"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        v["elements"],
        serde_json::json!([{"id": 3, "score": 20.0, "rank": 1}, {"id": 2, "score": 20.0, "rank": 1}])
    );
    // What HTTP wrote, the SDK reads.
    let ranks = board(&srv, "web").get_rank([4]).await.unwrap();
    assert_eq!(triples(ranks), [(4, 40.0, 3)]);

    expect_error(
        http.get(url("web?start=5&end=5")).send().await.unwrap(),
        StatusCode::BAD_REQUEST,
        "bad_request",
    )
    .await;
    expect_error(
        http.put(url("web"))
            .body(r#"{"elements":[{"id":-1,"score":1}]}"#)
            .send()
            .await
            .unwrap(),
        StatusCode::BAD_REQUEST,
        "bad_request",
    )
    .await;
    let removed = http.delete(url("web?ids=1,4")).send().await.unwrap();
    assert_eq!(removed.status(), StatusCode::NO_CONTENT);
    let v = json_of(http.get(url("web/length")).send().await.unwrap()).await;
    assert_eq!(v["length"], 2);
    let deleted = http.delete(url("web")).send().await.unwrap();
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    let v = json_of(http.get(url("web")).send().await.unwrap()).await;
    assert_eq!(v["elements"], serde_json::json!([]));
}
