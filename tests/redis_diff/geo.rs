//! Geo commands beside redis-server 7.0: scores (the 52-bit geohashes, via ZRANGE WITHSCORES),
//! GEOHASH strings, coordinate and distance formatting, the 9-box radius/box searches with
//! every option, STORE/STOREDIST results and the error texts, in RESP2 and RESP3.

use crate::common::redis_ref::Diff;

/// Same reply bytes, or, where Redis's order is unspecified (equal distances), the same lines.
async fn same_sorted(d: &mut Diff, parts: &[&str]) {
    let (f, r) = d.both(parts).await;
    let sort = |s: &str| {
        let mut v: Vec<String> = s.split("\r\n").map(str::to_string).collect();
        v.sort();
        v
    };
    assert_eq!(
        sort(&f),
        sort(&r),
        "{parts:?}: ferrite (left), redis (right)"
    );
}

/// The same zset: members byte for byte, scores as numbers (Ferrite prints doubles in Redis
/// 7.2's shortest form, 7.0 with `%.17g`: `4.901595322885654` vs `4.9015953228856537`).
async fn same_zset(d: &mut Diff, key: &str) {
    let (f, r) = d.both(&["ZRANGE", key, "0", "-1", "WITHSCORES"]).await;
    let parse = |s: &str| -> Vec<(String, f64)> {
        let vals: Vec<&str> = s
            .split("\r\n")
            .filter(|l| !l.is_empty() && !l.starts_with('*') && !l.starts_with('$'))
            .collect();
        vals.chunks(2)
            .map(|p| {
                let score = p[1].trim_start_matches(',').parse::<f64>().unwrap();
                (p[0].to_string(), score)
            })
            .collect()
    };
    assert_eq!(parse(&f), parse(&r), "{key}: ferrite (left), redis (right)");
}

async fn run(d: &mut Diff, cmd: &[String]) -> String {
    let parts: Vec<&str> = cmd.iter().map(String::as_str).collect();
    d.same(&parts).await
}

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}

/// A deterministic cloud of points (no two alike) over the whole map and dense near a few
/// centres, plus the edges: poles' limits and the antimeridian.
fn points() -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    let mut x: u64 = 0x9E3779B97F4A7C15;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        (x >> 11) as f64 / (1u64 << 53) as f64
    };
    for i in 0..300 {
        let lon = next() * 360.0 - 180.0;
        let lat = next() * 170.1 - 85.05;
        out.push((format!("{lon:.6}"), format!("{lat:.6}"), format!("w{i}")));
    }
    for (c, (clon, clat)) in [(13.36, 38.11), (-0.12, 51.5), (179.9, -16.5), (2.0, 84.9)]
        .into_iter()
        .enumerate()
    {
        for i in 0..60 {
            let lon: f64 = clon + (next() - 0.5) * 4.0;
            let lat: f64 = (clat + (next() - 0.5) * 3.0).clamp(-85.05, 85.05);
            let lon = if lon > 180.0 { lon - 360.0 } else { lon };
            out.push((
                format!("{lon:.7}"),
                format!("{lat:.7}"),
                format!("c{c}_{i}"),
            ));
        }
    }
    for (lon, lat, m) in [
        ("180", "85.05112878", "ne"),
        ("-180", "-85.05112878", "sw"),
        ("180", "0", "am_e"),
        ("-180", "0", "am_w"),
        ("179.9999", "10", "am_1"),
        ("-179.9999", "10", "am_2"),
        ("0", "0", "origin"),
        ("0", "85.05112878", "np"),
        ("0", "-85.05112878", "sp"),
        ("13.361389", "38.115556", "Palermo"),
        ("15.087269", "37.502669", "Catania"),
    ] {
        out.push((lon.into(), lat.into(), m.into()));
    }
    out
}

async fn load(d: &mut Diff) {
    let pts = points();
    for chunk in pts.chunks(50) {
        let mut cmd = s(&["GEOADD", "g"]);
        for (lon, lat, m) in chunk {
            cmd.extend([lon.clone(), lat.clone(), m.clone()]);
        }
        run(d, &cmd).await;
    }
}

#[tokio::test]
async fn geoadd_scores_positions_hashes_and_distances_match() {
    for resp3 in [false, true] {
        let mut d = Diff::start(resp3).await;
        load(&mut d).await;
        // The scores are the geohashes: the whole set must be byte-identical.
        d.same(&["ZRANGE", "g", "0", "-1", "WITHSCORES"]).await;
        let members: Vec<String> = points().into_iter().map(|p| p.2).collect();
        let mut pos = s(&["GEOPOS", "g"]);
        pos.extend(members.iter().cloned());
        pos.push("missing".into());
        run(&mut d, &pos).await;
        let mut hash = s(&["GEOHASH", "g"]);
        hash.extend(members.iter().cloned());
        hash.push("missing".into());
        run(&mut d, &hash).await;
        d.script(&[
            &["GEOPOS", "nokey", "a", "b"],
            &["GEOHASH", "nokey", "a"],
            &["GEOHASH", "g"],
            &["GEOPOS", "g"],
            &["GEODIST", "g", "Palermo", "Catania"],
            &["GEODIST", "g", "Palermo", "Catania", "km"],
            &["GEODIST", "g", "Palermo", "Catania", "MI"],
            &["GEODIST", "g", "Palermo", "Catania", "ft"],
            &["GEODIST", "g", "Palermo", "Catania", "M"],
            &["GEODIST", "g", "Palermo", "Palermo"],
            &["GEODIST", "g", "Palermo", "missing"],
            &["GEODIST", "nokey", "a", "b"],
            &["GEODIST", "g", "np", "sp"],
            &["GEODIST", "g", "am_e", "am_w"],
            &["GEODIST", "g", "am_1", "am_2", "km"],
            &["GEODIST", "g", "origin", "np"],
            &["GEODIST", "g", "ne", "sw", "mi"],
        ])
        .await;
        for pair in members.windows(2).step_by(7) {
            let cmd = s(&["GEODIST", "g", &pair[0], &pair[1], "km"]);
            run(&mut d, &cmd).await;
        }
        // NX / XX / CH, through ZADD's semantics
        d.script(&[
            &["GEOADD", "h", "1", "2", "a"],
            &["GEOADD", "h", "NX", "1", "3", "a", "4", "5", "b"],
            &["GEOADD", "h", "XX", "1", "3", "a", "6", "7", "c"],
            &["GEOADD", "h", "XX", "CH", "1", "4", "a", "6", "7", "c"],
            &["GEOADD", "h", "CH", "NX", "1", "5", "a", "8", "9", "d"],
            &["GEOADD", "h", "ch", "1", "4", "a", "4", "5", "b"],
            &["GEOADD", "h", "1", "4", "a"],
            &[
                "GEOADD",
                "h",
                "-180",
                "-85.05112878",
                "min",
                "180",
                "85.05112878",
                "max",
            ],
            &["GEOADD", "xx_new", "XX", "1", "2", "a"],
            &["EXISTS", "xx_new"],
            &["ZRANGE", "h", "0", "-1", "WITHSCORES"],
            &["GEOPOS", "h", "min", "max", "a"],
            &["GEOHASH", "h", "min", "max", "a"],
            &["TYPE", "h"],
        ])
        .await;
        // A sorted-set member with an arbitrary score still decodes.
        d.script(&[
            &[
                "ZADD",
                "z",
                "0",
                "zero",
                "1",
                "one",
                "4503599627370495",
                "top",
                "123.5",
                "frac",
            ],
            &[
                "ZADD",
                "z",
                "4503599627370496",
                "over",
                "9007199254740993",
                "big",
            ],
            &["GEOPOS", "z", "zero", "one", "top", "frac", "over", "big"],
            &["GEOHASH", "z", "over", "big"],
            // scores no geohash has: what C's (uint64_t) cast makes of them on x86-64
            &[
                "ZADD", "z", "-1", "neg", "-0.5", "negfrac", "1e20", "huge", "-inf", "ninf",
            ],
            &["ZADD", "z", "inf", "pinf", "12345678901234567890", "u64"],
            &[
                "GEOPOS", "z", "neg", "negfrac", "huge", "ninf", "pinf", "u64",
            ],
            &[
                "GEOHASH", "z", "neg", "negfrac", "huge", "ninf", "pinf", "u64",
            ],
            &["GEODIST", "z", "neg", "ninf", "km"],
            &["GEOHASH", "z", "zero", "one", "top", "frac"],
            &["GEODIST", "z", "zero", "top"],
        ])
        .await;
    }
}

#[tokio::test]
async fn geoadd_geopos_geodist_geohash_errors_match() {
    for resp3 in [false, true] {
        let mut d = Diff::start(resp3).await;
        d.same(&["SET", "str", "x"]).await;
        d.same(&["GEOADD", "g", "13.361389", "38.115556", "Palermo"])
            .await;
        for (cmd, exact) in [
            (&["GEOADD", "g", "181", "0", "m"][..], true),
            (&["GEOADD", "g", "-180.0001", "0", "m"], true),
            (&["GEOADD", "g", "0", "85.05112879", "m"], true),
            (&["GEOADD", "g", "0", "-86", "m"], true),
            (&["GEOADD", "g", "12345.678901234", "-9999.5", "m"], true),
            (&["GEOADD", "g", "x", "0", "m"], true),
            (&["GEOADD", "g", "0", "nan", "m"], true),
            (&["GEOADD", "g", "inf", "0", "m"], true),
            (&["GEOADD", "g", "1", "2", "a", "3"], true),
            (&["GEOADD", "g", "NX", "XX", "1", "2", "a"], true),
            (&["GEOADD", "g", "NX", "CH", "XX"], true),
            (&["GEOADD", "g", "GT", "1", "2", "a"], true),
            (&["GEOADD", "g", "1", "2"], true),
            (&["GEOADD", "str", "1", "2", "a"], true),
            (&["GEOADD", "str", "1", "200", "a"], true),
            (&["GEOPOS", "str", "a"], true),
            (&["GEOHASH", "str", "a"], true),
            (&["GEODIST", "str", "a", "b"], true),
            (&["GEODIST", "g", "a", "b", "parsec"], true),
            (&["GEODIST", "g", "a", "b", "km", "extra"], true),
            (&["GEODIST", "g", "a"], true),
            (&["GEOPOS"], true),
        ] {
            d.same_error(cmd, exact).await;
        }
        d.same(&["ZRANGE", "g", "0", "-1", "WITHSCORES"]).await;
    }
}

/// Searches around the edges and centres, every radius scale, each unit.
fn centres() -> Vec<(&'static str, &'static str)> {
    vec![
        ("13.36", "38.11"),
        ("-0.12", "51.5"),
        ("179.95", "-16.5"),
        ("-179.95", "-16.5"),
        ("180", "0"),
        ("-180", "0"),
        ("2", "84.9"),
        ("0", "85.05112878"),
        ("0", "-85.05112878"),
        ("0", "0"),
        ("-70", "-70"),
        ("100", "67"),
    ]
}

#[tokio::test]
async fn georadius_and_geosearch_results_match() {
    for resp3 in [false, true] {
        let mut d = Diff::start(resp3).await;
        load(&mut d).await;
        // (replies compared, replies that found something): the searches must not be vacuous
        let (mut total, mut found) = (0, 0);
        let mut tally = |r: &str| {
            total += 1;
            found += (r != "*0\r\n") as usize;
        };
        let radii = [
            ("0", "m"),
            ("50", "km"),
            ("200", "km"),
            ("120", "mi"),
            ("1000000", "ft"),
            ("3000", "km"),
            ("7000", "km"),
            ("25000", "km"),
        ];
        for (lon, lat) in centres() {
            for (r, unit) in radii {
                for opts in [
                    &[][..],
                    &["WITHDIST", "WITHCOORD", "WITHHASH"],
                    &["ASC", "WITHDIST"],
                    &["DESC", "WITHCOORD"],
                    &["COUNT", "5"],
                    &["COUNT", "3", "DESC", "WITHDIST"],
                    &["COUNT", "4", "ANY"],
                    &["COUNT", "4", "ANY", "ASC", "WITHHASH"],
                ] {
                    let mut c = s(&["GEORADIUS", "g", lon, lat, r, unit]);
                    c.extend(s(opts));
                    tally(&run(&mut d, &c).await);
                    c[0] = "GEORADIUS_RO".into();
                    tally(&run(&mut d, &c).await);
                    let mut c = s(&[
                        "GEOSEARCH",
                        "g",
                        "FROMLONLAT",
                        lon,
                        lat,
                        "BYRADIUS",
                        r,
                        unit,
                    ]);
                    c.extend(s(opts));
                    tally(&run(&mut d, &c).await);
                }
                // boxes: square, wide, tall
                for (wd, ht) in [(r, r), ("1", r), (r, "1")] {
                    for opts in [&["WITHDIST", "WITHCOORD"][..], &["COUNT", "3", "ASC"]] {
                        let mut c = s(&[
                            "GEOSEARCH",
                            "g",
                            "FROMLONLAT",
                            lon,
                            lat,
                            "BYBOX",
                            wd,
                            ht,
                            unit,
                        ]);
                        c.extend(s(opts));
                        tally(&run(&mut d, &c).await);
                    }
                }
            }
        }
        assert!(
            found * 2 > total,
            "{found} of {total} searches found something"
        );
        for m in [
            "Palermo", "am_e", "np", "sw", "c0_1", "c2_7", "c3_9", "origin",
        ] {
            for (r, unit) in [("0", "km"), ("100", "km"), ("2000", "km"), ("10000", "mi")] {
                let c = s(&["GEORADIUSBYMEMBER", "g", m, r, unit, "WITHDIST", "ASC"]);
                run(&mut d, &c).await;
                let c = s(&[
                    "GEORADIUSBYMEMBER_RO",
                    "g",
                    m,
                    r,
                    unit,
                    "WITHCOORD",
                    "COUNT",
                    "7",
                ]);
                run(&mut d, &c).await;
                let c = s(&[
                    "GEOSEARCH",
                    "g",
                    "FROMMEMBER",
                    m,
                    "BYRADIUS",
                    r,
                    unit,
                    "WITHHASH",
                ]);
                run(&mut d, &c).await;
                let c = s(&[
                    "GEOSEARCH",
                    "g",
                    "FROMMEMBER",
                    m,
                    "BYBOX",
                    r,
                    r,
                    unit,
                    "DESC",
                ]);
                run(&mut d, &c).await;
            }
        }
        // options in any order, any case; the last ASC/DESC and COUNT win
        d.script(&[
            &[
                "GEORADIUS",
                "g",
                "13.36",
                "38.11",
                "300",
                "km",
                "withdist",
                "desc",
                "asc",
                "count",
                "9",
                "count",
                "2",
            ],
            &[
                "GEOSEARCH",
                "g",
                "withcoord",
                "BYRADIUS",
                "300",
                "km",
                "FROMLONLAT",
                "13.36",
                "38.11",
                "any",
                "COUNT",
                "3",
            ],
            &[
                "GEOSEARCH",
                "g",
                "BYBOX",
                "400",
                "400",
                "km",
                "FROMMEMBER",
                "Palermo",
                "Count",
                "2",
            ],
            &["GEORADIUS", "nokey", "0", "0", "10", "km"],
            &["GEORADIUSBYMEMBER", "nokey", "m", "10", "km"],
            &[
                "GEOSEARCH",
                "nokey",
                "FROMLONLAT",
                "0",
                "0",
                "BYRADIUS",
                "10",
                "km",
            ],
        ])
        .await;
        // Equal distances: Redis leaves their order open.
        d.script(&[&[
            "GEOADD", "t", "1", "1", "a", "1", "1", "b", "1", "1", "c", "2", "2", "d",
        ]])
        .await;
        same_sorted(&mut d, &["GEORADIUS", "t", "1", "1", "500", "km", "ASC"]).await;
        same_sorted(
            &mut d,
            &[
                "GEOSEARCH",
                "t",
                "FROMMEMBER",
                "d",
                "BYRADIUS",
                "500",
                "km",
                "DESC",
                "WITHDIST",
            ],
        )
        .await;
    }
}

#[tokio::test]
async fn store_and_storedist_match() {
    for resp3 in [false, true] {
        let mut d = Diff::start(resp3).await;
        load(&mut d).await;
        d.same(&["SET", "str", "x"]).await;
        let cmds: &[&[&str]] = &[
            &[
                "GEORADIUS",
                "g",
                "13.36",
                "38.11",
                "200",
                "km",
                "STORE",
                "d1",
            ],
            &[
                "GEORADIUS",
                "g",
                "13.36",
                "38.11",
                "200",
                "km",
                "STOREDIST",
                "d2",
            ],
            &[
                "GEORADIUS",
                "g",
                "13.36",
                "38.11",
                "200",
                "mi",
                "COUNT",
                "5",
                "DESC",
                "STOREDIST",
                "d3",
            ],
            &[
                "GEORADIUS",
                "g",
                "13.36",
                "38.11",
                "200",
                "km",
                "COUNT",
                "3",
                "ANY",
                "STORE",
                "d4",
            ],
            &[
                "GEORADIUSBYMEMBER",
                "g",
                "Palermo",
                "300",
                "km",
                "STORE",
                "d5",
            ],
            &[
                "GEORADIUSBYMEMBER",
                "g",
                "np",
                "900",
                "km",
                "STOREDIST",
                "d6",
                "COUNT",
                "4",
            ],
            &[
                "GEOSEARCHSTORE",
                "d7",
                "g",
                "FROMLONLAT",
                "180",
                "0",
                "BYRADIUS",
                "2000",
                "km",
            ],
            &[
                "GEOSEARCHSTORE",
                "d8",
                "g",
                "FROMMEMBER",
                "Catania",
                "BYBOX",
                "500",
                "300",
                "km",
                "STOREDIST",
            ],
            &[
                "GEOSEARCHSTORE",
                "d9",
                "g",
                "FROMMEMBER",
                "Catania",
                "BYBOX",
                "500",
                "300",
                "ft",
                "STOREDIST",
                "COUNT",
                "2",
            ],
            &[
                "GEOSEARCHSTORE",
                "g2",
                "g",
                "FROMLONLAT",
                "0",
                "0",
                "BYRADIUS",
                "30000",
                "km",
            ],
            // over another type, a result-less search deletes the destination
            &[
                "GEORADIUS",
                "g",
                "13.36",
                "38.11",
                "200",
                "km",
                "STORE",
                "str",
            ],
            &["TYPE", "str"],
            &["GEORADIUS", "g", "100", "0", "1", "m", "STORE", "d1"],
            &["EXISTS", "d1"],
            &[
                "GEOSEARCHSTORE",
                "d2",
                "nokey",
                "FROMLONLAT",
                "0",
                "0",
                "BYRADIUS",
                "1",
                "km",
            ],
            &["EXISTS", "d2"],
            &["GEORADIUS", "nokey", "0", "0", "10", "km", "STORE", "d3"],
            &["EXISTS", "d3"],
            &["GEORADIUSBYMEMBER", "nokey", "m", "10", "km", "STORE", "d4"],
            &["EXISTS", "d4"],
            &[
                "GEORADIUS",
                "g",
                "13.36",
                "38.11",
                "200",
                "km",
                "STORE",
                "a",
                "STOREDIST",
                "b",
            ],
            &["EXISTS", "a", "b"],
        ];
        d.script(cmds).await;
        // STORE keeps the geohash scores: identical bytes.
        for k in ["d1", "d4", "d5", "d7", "g2", "str"] {
            d.same(&["ZRANGE", k, "0", "-1", "WITHSCORES"]).await;
        }
        for k in ["d2", "d3", "d6", "d8", "d9", "b"] {
            same_zset(&mut d, k).await;
        }
        // a stored geo set is a geo set
        d.script(&[
            &["GEOPOS", "g2", "Palermo", "ne", "sw"],
            &["GEODIST", "g2", "ne", "sw", "km"],
            &[
                "GEOSEARCH",
                "g2",
                "FROMMEMBER",
                "Palermo",
                "BYRADIUS",
                "300",
                "km",
                "ASC",
            ],
        ])
        .await;
    }
}

#[tokio::test]
async fn search_errors_match() {
    for resp3 in [false, true] {
        let mut d = Diff::start(resp3).await;
        d.same(&["GEOADD", "g", "13.361389", "38.115556", "Palermo"])
            .await;
        d.same(&["SET", "str", "x"]).await;
        let errs: &[&[&str]] = &[
            &["GEORADIUS", "g", "200", "0", "10", "km"],
            &["GEORADIUS", "g", "x", "0", "10", "km"],
            &["GEORADIUS", "g", "0", "0", "x", "km"],
            &["GEORADIUS", "g", "0", "0", "-1", "km"],
            &["GEORADIUS", "g", "0", "0", "10", "yd"],
            &["GEORADIUS", "g", "0", "0", "10", "km", "COUNT", "0"],
            &["GEORADIUS", "g", "0", "0", "10", "km", "COUNT", "-3"],
            &["GEORADIUS", "g", "0", "0", "10", "km", "COUNT", "x"],
            &["GEORADIUS", "g", "0", "0", "10", "km", "COUNT"],
            &["GEORADIUS", "g", "0", "0", "10", "km", "ANY"],
            &["GEORADIUS", "g", "0", "0", "10", "km", "BOGUS"],
            &["GEORADIUS", "g", "0", "0", "10", "km", "STORE"],
            &[
                "GEORADIUS",
                "g",
                "0",
                "0",
                "10",
                "km",
                "STORE",
                "d",
                "WITHDIST",
            ],
            &[
                "GEORADIUS",
                "g",
                "0",
                "0",
                "10",
                "km",
                "WITHHASH",
                "STOREDIST",
                "d",
            ],
            &[
                "GEORADIUS",
                "g",
                "0",
                "0",
                "10",
                "km",
                "FROMLONLAT",
                "0",
                "0",
            ],
            &["GEORADIUS", "nokey", "200", "0", "10", "km"],
            &["GEORADIUS", "str", "0", "0", "10", "km"],
            &["GEORADIUS", "str", "200", "0", "10", "km"],
            &["GEORADIUS_RO", "g", "0", "0", "10", "km", "STORE", "d"],
            &["GEORADIUS_RO", "g", "0", "0", "10", "km", "STOREDIST", "d"],
            &["GEORADIUSBYMEMBER", "g", "missing", "10", "km"],
            &["GEORADIUSBYMEMBER", "g", "Palermo", "10", "parsec"],
            &["GEORADIUSBYMEMBER", "g", "Palermo", "x", "km"],
            &["GEORADIUSBYMEMBER", "str", "Palermo", "10", "km"],
            &[
                "GEORADIUSBYMEMBER_RO",
                "g",
                "Palermo",
                "10",
                "km",
                "STORE",
                "d",
            ],
            &["GEOSEARCH", "g", "BYRADIUS", "10", "km", "ASC"],
            &["GEOSEARCH", "g", "FROMLONLAT", "0", "0", "ASC"],
            &["geosearch", "g", "FROMLONLAT", "0", "0", "WITHDIST"],
            &[
                "GEOSEARCH",
                "g",
                "FROMLONLAT",
                "0",
                "0",
                "FROMMEMBER",
                "Palermo",
                "BYRADIUS",
                "1",
                "km",
            ],
            &[
                "GEOSEARCH",
                "g",
                "FROMMEMBER",
                "Palermo",
                "FROMLONLAT",
                "0",
                "0",
                "BYRADIUS",
                "1",
                "km",
            ],
            &[
                "GEOSEARCH",
                "g",
                "FROMLONLAT",
                "0",
                "0",
                "BYRADIUS",
                "1",
                "km",
                "BYBOX",
                "1",
                "1",
                "km",
            ],
            &[
                "GEOSEARCH",
                "g",
                "FROMLONLAT",
                "0",
                "0",
                "BYBOX",
                "1",
                "1",
                "km",
                "BYRADIUS",
                "1",
                "km",
            ],
            &[
                "GEOSEARCH",
                "g",
                "FROMLONLAT",
                "0",
                "0",
                "BYBOX",
                "x",
                "1",
                "km",
            ],
            &[
                "GEOSEARCH",
                "g",
                "FROMLONLAT",
                "0",
                "0",
                "BYBOX",
                "1",
                "x",
                "km",
            ],
            &[
                "GEOSEARCH",
                "g",
                "FROMLONLAT",
                "0",
                "0",
                "BYBOX",
                "-1",
                "1",
                "km",
            ],
            &[
                "GEOSEARCH",
                "g",
                "FROMLONLAT",
                "0",
                "0",
                "BYBOX",
                "1",
                "1",
                "au",
            ],
            &["GEOSEARCH", "g", "FROMLONLAT", "0", "0", "BYBOX", "1", "1"],
            &[
                "GEOSEARCH",
                "g",
                "FROMLONLAT",
                "0",
                "95",
                "BYRADIUS",
                "1",
                "km",
            ],
            &[
                "GEOSEARCH",
                "g",
                "FROMMEMBER",
                "missing",
                "BYRADIUS",
                "1",
                "km",
            ],
            &[
                "GEOSEARCH",
                "g",
                "FROMLONLAT",
                "0",
                "0",
                "BYRADIUS",
                "1",
                "km",
                "STORE",
                "d",
            ],
            &[
                "GEOSEARCH",
                "g",
                "FROMLONLAT",
                "0",
                "0",
                "BYRADIUS",
                "1",
                "km",
                "STOREDIST",
            ],
            &[
                "GEOSEARCH",
                "g",
                "FROMLONLAT",
                "0",
                "0",
                "BYRADIUS",
                "1",
                "km",
                "ANY",
            ],
            &[
                "GEOSEARCH",
                "str",
                "FROMLONLAT",
                "0",
                "0",
                "BYRADIUS",
                "1",
                "km",
            ],
            &["GEOSEARCH", "nokey", "FROMMEMBER", "m", "ASC"],
            &[
                "GEOSEARCH",
                "nokey",
                "FROMMEMBER",
                "m",
                "BYRADIUS",
                "x",
                "km",
            ],
            &[
                "GEOSEARCHSTORE",
                "d",
                "g",
                "FROMLONLAT",
                "0",
                "0",
                "BYRADIUS",
                "1",
                "km",
                "WITHDIST",
            ],
            &[
                "GEOSEARCHSTORE",
                "d",
                "g",
                "FROMLONLAT",
                "0",
                "0",
                "BYRADIUS",
                "1",
                "km",
                "STORE",
                "x",
            ],
            &[
                "GEOSEARCHSTORE",
                "d",
                "str",
                "FROMLONLAT",
                "0",
                "0",
                "BYRADIUS",
                "1",
                "km",
            ],
            &["GEOSEARCHSTORE", "d", "g", "FROMLONLAT", "0", "0", "ASC"],
            &["GEOSEARCH", "g", "FROMLONLAT", "0", "0"],
            &["GEORADIUS", "g", "0", "0", "10"],
        ];
        for e in errs {
            d.same_error(e, true).await;
        }
        // A missing member on a missing key is no error (Redis skips the lookup).
        d.script(&[
            &[
                "GEOSEARCH",
                "nokey",
                "FROMMEMBER",
                "m",
                "BYRADIUS",
                "1",
                "km",
            ],
            &[
                "GEOSEARCHSTORE",
                "d",
                "nokey",
                "FROMMEMBER",
                "m",
                "BYBOX",
                "1",
                "1",
                "km",
            ],
            &["GEORADIUSBYMEMBER", "nokey", "m", "x", "km"],
            &["GEORADIUSBYMEMBER", "nokey", "m", "10", "km", "WITHDIST"],
        ])
        .await;
    }
}

#[tokio::test]
async fn command_info_and_getkeys_match() {
    let mut d = Diff::start(false).await;
    d.script(&[
        &[
            "COMMAND",
            "GETKEYS",
            "GEORADIUS",
            "src",
            "0",
            "0",
            "1",
            "km",
            "STORE",
            "dst",
        ],
        &[
            "COMMAND",
            "GETKEYS",
            "GEORADIUS",
            "src",
            "0",
            "0",
            "1",
            "km",
            "STOREDIST",
            "dst",
        ],
        &[
            "COMMAND",
            "GETKEYS",
            "GEORADIUSBYMEMBER",
            "src",
            "m",
            "1",
            "km",
            "STORE",
            "dst",
        ],
        &[
            "COMMAND",
            "GETKEYS",
            "GEOSEARCHSTORE",
            "dst",
            "src",
            "FROMLONLAT",
            "0",
            "0",
            "BYRADIUS",
            "1",
            "km",
        ],
        &["COMMAND", "GETKEYS", "GEOADD", "k", "1", "2", "m"],
    ])
    .await;
}
