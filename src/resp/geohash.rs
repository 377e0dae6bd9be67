//! Redis's geohash arithmetic (geohash.c / geohash_helper.c), bit for bit: a geo set is a
//! sorted set whose scores are 52-bit interleaved geohashes (step 26) over the longitude range
//! ±180 and the Web-Mercator latitude range ±85.05112878. The radius/box search walks the
//! centre box and its 8 neighbours at a step estimated from the radius, as Redis does, so the
//! same members are found in the same order. Pure functions, no I/O.

pub const STEP_MAX: u8 = 26;
pub const LAT_MIN: f64 = -85.05112878;
pub const LAT_MAX: f64 = 85.05112878;
pub const LONG_MIN: f64 = -180.0;
pub const LONG_MAX: f64 = 180.0;

const D_R: f64 = std::f64::consts::PI / 180.0;
/// Earth's quadratic mean radius for WGS-84.
pub const EARTH_RADIUS_IN_METERS: f64 = 6372797.560856;
const MERCATOR_MAX: f64 = 20037726.37;

#[inline]
fn deg_rad(ang: f64) -> f64 {
    ang * D_R
}
#[inline]
fn rad_deg(ang: f64) -> f64 {
    ang / D_R
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct HashBits {
    pub bits: u64,
    pub step: u8,
}

impl HashBits {
    fn is_zero(&self) -> bool {
        self.bits == 0 && self.step == 0
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Range {
    pub min: f64,
    pub max: f64,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Area {
    pub longitude: Range,
    pub latitude: Range,
}

pub const WGS84_LONG: Range = Range {
    min: LONG_MIN,
    max: LONG_MAX,
};
pub const WGS84_LAT: Range = Range {
    min: LAT_MIN,
    max: LAT_MAX,
};
/// The standard geohash ranges GEOHASH re-encodes with.
pub const STD_LAT: Range = Range {
    min: -90.0,
    max: 90.0,
};

fn interleave64(xlo: u32, ylo: u32) -> u64 {
    const B: [u64; 5] = [
        0x5555555555555555,
        0x3333333333333333,
        0x0F0F0F0F0F0F0F0F,
        0x00FF00FF00FF00FF,
        0x0000FFFF0000FFFF,
    ];
    const S: [u32; 5] = [1, 2, 4, 8, 16];
    let (mut x, mut y) = (xlo as u64, ylo as u64);
    for i in (0..5).rev() {
        x = (x | (x << S[i])) & B[i];
        y = (y | (y << S[i])) & B[i];
    }
    x | (y << 1)
}

fn deinterleave64(interleaved: u64) -> u64 {
    const B: [u64; 6] = [
        0x5555555555555555,
        0x3333333333333333,
        0x0F0F0F0F0F0F0F0F,
        0x00FF00FF00FF00FF,
        0x0000FFFF0000FFFF,
        0x00000000FFFFFFFF,
    ];
    const S: [u32; 6] = [0, 1, 2, 4, 8, 16];
    let (mut x, mut y) = (interleaved, interleaved >> 1);
    for i in 0..6 {
        x = (x | (x >> S[i])) & B[i];
        y = (y | (y >> S[i])) & B[i];
    }
    x | (y << 32)
}

/// geohashEncode: None outside the WGS-84 limits or the given ranges.
pub fn encode(
    long_range: Range,
    lat_range: Range,
    longitude: f64,
    latitude: f64,
    step: u8,
) -> Option<HashBits> {
    if step == 0 || step > 32 {
        return None;
    }
    if !(LONG_MIN..=LONG_MAX).contains(&longitude) || !(LAT_MIN..=LAT_MAX).contains(&latitude) {
        return None;
    }
    if latitude < lat_range.min
        || latitude > lat_range.max
        || longitude < long_range.min
        || longitude > long_range.max
    {
        return None;
    }
    let mut lat_offset = (latitude - lat_range.min) / (lat_range.max - lat_range.min);
    let mut long_offset = (longitude - long_range.min) / (long_range.max - long_range.min);
    lat_offset *= (1u64 << step) as f64;
    long_offset *= (1u64 << step) as f64;
    Some(HashBits {
        bits: interleave64(lat_offset as u32, long_offset as u32),
        step,
    })
}

pub fn encode_wgs84(longitude: f64, latitude: f64, step: u8) -> Option<HashBits> {
    encode(WGS84_LONG, WGS84_LAT, longitude, latitude, step)
}

/// geohashDecode: the box a hash names.
pub fn decode(long_range: Range, lat_range: Range, hash: HashBits) -> Option<Area> {
    if hash.is_zero() {
        return None;
    }
    let sep = deinterleave64(hash.bits);
    let lat_scale = lat_range.max - lat_range.min;
    let long_scale = long_range.max - long_range.min;
    let ilato = sep as u32;
    let ilono = (sep >> 32) as u32;
    let div = (1u64 << hash.step) as f64;
    Some(Area {
        latitude: Range {
            min: lat_range.min + (ilato as f64 / div) * lat_scale,
            max: lat_range.min + (ilato.wrapping_add(1) as f64 / div) * lat_scale,
        },
        longitude: Range {
            min: long_range.min + (ilono as f64 / div) * long_scale,
            max: long_range.min + (ilono.wrapping_add(1) as f64 / div) * long_scale,
        },
    })
}

/// geohashDecodeAreaToLongLat: the box's centre, clamped to the WGS-84 limits.
fn area_center(a: &Area) -> [f64; 2] {
    let lon = ((a.longitude.min + a.longitude.max) / 2.0).clamp(LONG_MIN, LONG_MAX);
    let lat = ((a.latitude.min + a.latitude.max) / 2.0).clamp(LAT_MIN, LAT_MAX);
    [lon, lat]
}

/// C's `(uint64_t)score` as redis-server (x86-64, gcc) computes it, for the scores of plain
/// sorted-set members that are no geohash: below 2^63 `cvttsd2si` (out of range or NaN: the
/// "integer indefinite" 2^63), from 2^63 the same on `score - 2^63` with the top bit flipped.
/// Geohash scores (integers in 0..2^53) convert exactly either way.
fn c_double_to_u64(d: f64) -> u64 {
    const TWO_63: f64 = 9223372036854775808.0;
    const INDEFINITE: u64 = 1 << 63;
    let cvttsd2si = |x: f64| {
        if x.is_nan() || !(-TWO_63..TWO_63).contains(&x) {
            INDEFINITE
        } else {
            x as i64 as u64
        }
    };
    if d >= TWO_63 {
        cvttsd2si(d - TWO_63) ^ INDEFINITE
    } else {
        cvttsd2si(d)
    }
}

/// decodeGeohash: a geo set score → [longitude, latitude].
pub fn decode_score(score: f64) -> Option<[f64; 2]> {
    let hash = HashBits {
        bits: c_double_to_u64(score),
        step: STEP_MAX,
    };
    decode(WGS84_LONG, WGS84_LAT, hash).map(|a| area_center(&a))
}

/// geohashAlign52Bits.
pub fn align52(hash: HashBits) -> u64 {
    hash.bits << (52 - hash.step as u32 * 2)
}

/// The score GEOADD stores for a coordinate pair (None outside the limits).
pub fn score_of(longitude: f64, latitude: f64) -> Option<u64> {
    encode_wgs84(longitude, latitude, STEP_MAX).map(align52)
}

/// GEOHASH's 11-character string for a stored score.
pub fn hash_string(score: f64) -> Option<[u8; 11]> {
    const ALPHABET: &[u8; 32] = b"0123456789bcdefghjkmnpqrstuvwxyz";
    let [lon, lat] = decode_score(score)?;
    let hash = encode(WGS84_LONG, STD_LAT, lon, lat, 26)?;
    let mut buf = [0u8; 11];
    for (i, b) in buf.iter_mut().enumerate() {
        let idx = if i == 10 {
            0
        } else {
            (hash.bits >> (52 - (i + 1) * 5)) & 0x1f
        };
        *b = ALPHABET[idx as usize];
    }
    Some(buf)
}

/// geohashGetLatDistance.
pub fn lat_distance(lat1d: f64, lat2d: f64) -> f64 {
    EARTH_RADIUS_IN_METERS * (deg_rad(lat2d) - deg_rad(lat1d)).abs()
}

/// geohashGetDistance: Haversine, in meters.
pub fn distance(lon1d: f64, lat1d: f64, lon2d: f64, lat2d: f64) -> f64 {
    let lon1r = deg_rad(lon1d);
    let lon2r = deg_rad(lon2d);
    let v = ((lon2r - lon1r) / 2.0).sin();
    if v == 0.0 {
        return lat_distance(lat1d, lat2d);
    }
    let lat1r = deg_rad(lat1d);
    let lat2r = deg_rad(lat2d);
    let u = ((lat2r - lat1r) / 2.0).sin();
    let a = u * u + lat1r.cos() * lat2r.cos() * v * v;
    2.0 * EARTH_RADIUS_IN_METERS * a.sqrt().asin()
}

/// geohashEstimateStepsByRadius.
pub fn estimate_steps_by_radius(mut range_meters: f64, lat: f64) -> u8 {
    if range_meters == 0.0 {
        return 26;
    }
    let mut step: i32 = 1;
    while range_meters < MERCATOR_MAX {
        range_meters *= 2.0;
        step += 1;
    }
    step -= 2;
    if !(-66.0..=66.0).contains(&lat) {
        step -= 1;
        if !(-80.0..=80.0).contains(&lat) {
            step -= 1;
        }
    }
    step.clamp(1, 26) as u8
}

fn move_x(hash: &mut HashBits, d: i8) {
    if d == 0 {
        return;
    }
    let mut x = hash.bits & 0xaaaaaaaaaaaaaaaa;
    let y = hash.bits & 0x5555555555555555;
    let zz = 0x5555555555555555u64 >> (64 - hash.step as u32 * 2);
    if d > 0 {
        x = x.wrapping_add(zz + 1);
    } else {
        x |= zz;
        x = x.wrapping_sub(zz + 1);
    }
    x &= 0xaaaaaaaaaaaaaaaau64 >> (64 - hash.step as u32 * 2);
    hash.bits = x | y;
}

fn move_y(hash: &mut HashBits, d: i8) {
    if d == 0 {
        return;
    }
    let x = hash.bits & 0xaaaaaaaaaaaaaaaa;
    let mut y = hash.bits & 0x5555555555555555;
    let zz = 0xaaaaaaaaaaaaaaaau64 >> (64 - hash.step as u32 * 2);
    if d > 0 {
        y = y.wrapping_add(zz + 1);
    } else {
        y |= zz;
        y = y.wrapping_sub(zz + 1);
    }
    y &= 0x5555555555555555u64 >> (64 - hash.step as u32 * 2);
    hash.bits = x | y;
}

/// What is searched: a circle (radius) or an axis-aligned box (width × height), in meters
/// after `conversion` (the unit's size in meters).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Shape {
    Radius(f64),
    Box { width: f64, height: f64 },
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Search {
    /// [longitude, latitude] of the centre.
    pub xy: [f64; 2],
    pub shape: Shape,
    pub conversion: f64,
}

impl Search {
    /// geohashBoundingBox: [min_lon, min_lat, max_lon, max_lat].
    fn bounding_box(&self) -> [f64; 4] {
        let [longitude, latitude] = self.xy;
        let (height, width) = match self.shape {
            Shape::Radius(r) => (self.conversion * r, self.conversion * r),
            Shape::Box { width, height } => (
                self.conversion * (height / 2.0),
                self.conversion * (width / 2.0),
            ),
        };
        let lat_delta = rad_deg(height / EARTH_RADIUS_IN_METERS);
        let long_delta_top =
            rad_deg(width / EARTH_RADIUS_IN_METERS / deg_rad(latitude + lat_delta).cos());
        let long_delta_bottom =
            rad_deg(width / EARTH_RADIUS_IN_METERS / deg_rad(latitude - lat_delta).cos());
        let south = latitude < 0.0;
        let delta = if south {
            long_delta_bottom
        } else {
            long_delta_top
        };
        [
            longitude - delta,
            latitude - lat_delta,
            longitude + delta,
            latitude + lat_delta,
        ]
    }

    /// geohashCalculateAreasByShapeWGS84 + membersOfAllNeighbors' ordering: the boxes to scan,
    /// as half-open score ranges `[min, max)`, in Redis's order (centre, N, S, E, W, NE, NW,
    /// SE, SW), with zeroed neighbours and repeats of the previous box left out.
    pub fn score_ranges(&self) -> Vec<(u64, u64)> {
        let [min_lon, min_lat, max_lon, max_lat] = self.bounding_box();
        let [longitude, latitude] = self.xy;
        let radius_meters = match self.shape {
            Shape::Radius(r) => r,
            Shape::Box { width, height } => {
                ((width / 2.0) * (width / 2.0) + (height / 2.0) * (height / 2.0)).sqrt()
            }
        } * self.conversion;
        let mut steps = estimate_steps_by_radius(radius_meters, latitude);
        let compute = |steps: u8| {
            let hash = encode_wgs84(longitude, latitude, steps).unwrap_or_default();
            let n = neighbors(&hash);
            let area = decode(WGS84_LONG, WGS84_LAT, hash);
            (hash, n, area)
        };
        let (mut hash, mut n, mut area) = compute(steps);
        let dec = |h: HashBits| decode(WGS84_LONG, WGS84_LAT, h);
        let decrease = match (dec(n[NORTH]), dec(n[SOUTH]), dec(n[EAST]), dec(n[WEST])) {
            (Some(no), Some(so), Some(ea), Some(we)) => {
                no.latitude.max < max_lat
                    || so.latitude.min > min_lat
                    || ea.longitude.max < max_lon
                    || we.longitude.min > min_lon
            }
            // Redis reads uninitialised areas here; a zero hash cannot come from a valid centre.
            _ => false,
        };
        if steps > 1 && decrease {
            steps -= 1;
            (hash, n, area) = compute(steps);
        }
        if steps >= 2 {
            if let Some(area) = area {
                let zero = |n: &mut [HashBits; 8], which: [usize; 3]| {
                    for i in which {
                        n[i] = HashBits::default();
                    }
                };
                if area.latitude.min < min_lat {
                    zero(&mut n, [SOUTH, SOUTH_WEST, SOUTH_EAST]);
                }
                if area.latitude.max > max_lat {
                    zero(&mut n, [NORTH, NORTH_EAST, NORTH_WEST]);
                }
                if area.longitude.min < min_lon {
                    zero(&mut n, [WEST, SOUTH_WEST, NORTH_WEST]);
                }
                if area.longitude.max > max_lon {
                    zero(&mut n, [EAST, SOUTH_EAST, NORTH_EAST]);
                }
            }
        }
        let boxes = [
            hash,
            n[NORTH],
            n[SOUTH],
            n[EAST],
            n[WEST],
            n[NORTH_EAST],
            n[NORTH_WEST],
            n[SOUTH_EAST],
            n[SOUTH_WEST],
        ];
        let mut out = Vec::with_capacity(9);
        let mut last_processed = 0;
        for (i, b) in boxes.iter().enumerate() {
            if b.is_zero() {
                continue;
            }
            if last_processed != 0 && *b == boxes[last_processed] {
                continue;
            }
            let min = align52(*b);
            let max = align52(HashBits {
                bits: b.bits.wrapping_add(1),
                step: b.step,
            });
            out.push((min, max));
            last_processed = i;
        }
        out
    }

    /// geoWithinShape: the distance from the centre (in meters) when `xy` is inside.
    pub fn within(&self, xy: [f64; 2]) -> Option<f64> {
        let [x1, y1] = self.xy;
        let [x2, y2] = xy;
        match self.shape {
            Shape::Radius(r) => {
                let d = distance(x1, y1, x2, y2);
                (d <= r * self.conversion).then_some(d)
            }
            Shape::Box { width, height } => {
                let (width_m, height_m) = (width * self.conversion, height * self.conversion);
                if lat_distance(y2, y1) > height_m / 2.0 {
                    return None;
                }
                if distance(x2, y2, x1, y2) > width_m / 2.0 {
                    return None;
                }
                Some(distance(x1, y1, x2, y2))
            }
        }
    }
}

const NORTH: usize = 0;
const SOUTH: usize = 1;
const EAST: usize = 2;
const WEST: usize = 3;
const NORTH_EAST: usize = 4;
const NORTH_WEST: usize = 5;
const SOUTH_EAST: usize = 6;
const SOUTH_WEST: usize = 7;

/// geohashNeighbors, indexed by the constants above.
fn neighbors(hash: &HashBits) -> [HashBits; 8] {
    let mut n = [*hash; 8];
    move_x(&mut n[EAST], 1);
    move_x(&mut n[WEST], -1);
    move_y(&mut n[SOUTH], -1);
    move_y(&mut n[NORTH], 1);
    move_x(&mut n[NORTH_WEST], -1);
    move_y(&mut n[NORTH_WEST], 1);
    move_x(&mut n[SOUTH_WEST], -1);
    move_y(&mut n[SOUTH_WEST], -1);
    move_x(&mut n[NORTH_EAST], 1);
    move_y(&mut n[NORTH_EAST], 1);
    move_x(&mut n[SOUTH_EAST], 1);
    move_y(&mut n[SOUTH_EAST], -1);
    n
}

/// Redis's `%.4f` for distances (addReplyDoubleDistance).
pub fn format_distance(d: f64) -> String {
    format!("{d:.4}")
}

/// Redis's ld2string(LD_STR_HUMAN) for coordinates: `%.17Lf` without trailing zeros.
pub fn format_coord(d: f64) -> String {
    if d.is_infinite() {
        return if d > 0.0 { "inf".into() } else { "-inf".into() };
    }
    let mut s = format!("{d:.17}");
    if s.contains('.') {
        while s.ends_with('0') {
            s.pop();
        }
        if s.ends_with('.') {
            s.pop();
        }
    }
    if s == "-0" {
        s = "0".into();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interleave_roundtrip() {
        for (x, y) in [
            (0u32, 0u32),
            (1, 0),
            (0, 1),
            (0x3ffffff, 0x1234567),
            (42448413, 54793771),
        ] {
            let i = interleave64(x, y);
            let d = deinterleave64(i);
            assert_eq!((d as u32, (d >> 32) as u32), (x, y));
        }
        // the top of the latitude range spills into bit 52, as in Redis
        assert_eq!(interleave64(1 << 26, 0), 1 << 52);
    }

    #[test]
    fn known_scores_and_hashes() {
        // Values from redis-server 7.0 (GEOADD Sicily 13.361389 38.115556 Palermo ...).
        assert_eq!(score_of(13.361389, 38.115556), Some(3479099956230698));
        assert_eq!(score_of(15.087269, 37.502669), Some(3479447370796909));
        assert_eq!(&hash_string(3479099956230698.0).unwrap(), b"sqc8b49rny0");
        assert_eq!(&hash_string(3479447370796909.0).unwrap(), b"sqdtr74hyu0");
        assert_eq!(score_of(181.0, 0.0), None);
        assert_eq!(score_of(0.0, 85.06), None);
        let d = distance(
            13.361389338970184,
            38.1155563954963,
            15.087267458438873,
            37.50266842333162,
        );
        assert_eq!(format_distance(d), "166274.1516");
        let [lon, lat] = decode_score(3479099956230698.0).unwrap();
        assert_eq!(format_coord(lon), "13.36138933897018433");
        assert_eq!(format_coord(lat), "38.11555639549629859");
    }

    #[test]
    fn steps_by_radius() {
        assert_eq!(estimate_steps_by_radius(0.0, 0.0), 26);
        assert_eq!(estimate_steps_by_radius(200_000.0, 0.0), 6);
        assert_eq!(estimate_steps_by_radius(200_000.0, 70.0), 5);
        assert_eq!(estimate_steps_by_radius(200_000.0, -85.0), 4);
        assert_eq!(estimate_steps_by_radius(1e9, 0.0), 1);
        assert_eq!(estimate_steps_by_radius(0.001, 0.0), 26);
    }

    #[test]
    fn neighbours_move_one_box() {
        let h = encode_wgs84(10.0, 10.0, 5).unwrap();
        let n = neighbors(&h);
        let a = decode(WGS84_LONG, WGS84_LAT, h).unwrap();
        let e = decode(WGS84_LONG, WGS84_LAT, n[EAST]).unwrap();
        let no = decode(WGS84_LONG, WGS84_LAT, n[NORTH]).unwrap();
        assert_eq!(e.longitude.min, a.longitude.max);
        assert_eq!(no.latitude.min, a.latitude.max);
    }

    #[test]
    fn c_cast_of_odd_scores() {
        assert_eq!(c_double_to_u64(-1.0), u64::MAX);
        assert_eq!(c_double_to_u64(-0.5), 0);
        assert_eq!(c_double_to_u64(f64::INFINITY), 0);
        assert_eq!(c_double_to_u64(f64::NEG_INFINITY), 1 << 63);
        assert_eq!(c_double_to_u64(1e20), 0);
        assert_eq!(
            c_double_to_u64(12345678901234567890.0),
            12345678901234567168
        );
        assert_eq!(c_double_to_u64(3479099956230698.0), 3479099956230698);
    }

    #[test]
    fn coordinate_formatting() {
        assert_eq!(format_coord(0.0), "0");
        assert_eq!(format_coord(-0.0), "0");
        assert_eq!(format_coord(180.0), "180");
        assert_eq!(format_coord(-1.5), "-1.5");
        assert_eq!(format_distance(0.0), "0.0000");
    }
}
