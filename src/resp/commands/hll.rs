//! Redis's HyperLogLog string format (Redis 7.0 `hyperloglog.c`), byte for byte: the codec
//! behind PFADD/PFCOUNT/PFMERGE/PFDEBUG. No I/O, no locks: it works on the string's bytes.
//!
//! Layout: a 16-byte header (`HYLL`, the encoding byte, 3 unused bytes, the cached cardinality
//! as 8 little-endian bytes whose top bit set means "stale"), then the registers: 16384 6-bit
//! registers packed LSB first (dense, always 12304 bytes in all), or the sparse opcodes
//! `ZERO` (`00xxxxxx`: 1..64 zero registers), `XZERO` (`01xxxxxx yyyyyyyy`: 1..16384 zero
//! registers) and `VAL` (`1vvvvvxx`: 1..4 registers of value 1..32). A sparse HLL becomes
//! dense when a register needs a value over 32 or a split would make the string longer than
//! `hll-sparse-max-bytes`. Elements hash with MurmurHash64A (seed 0xadc83b19): the low 14 bits
//! pick the register, the position of the first 1 bit among the other 50 (plus one) is the
//! value. The estimate is Otmar Ertl's improved estimator ("New cardinality estimation
//! algorithms for HyperLogLog sketches", arXiv:1702.01284), as Redis 5 and later compute it.

/// Register index bits (Redis's `HLL_P`).
pub const P: u32 = 14;
/// Hash bits left for the run of zeroes (`HLL_Q`).
pub const Q: u32 = 64 - P;
/// Number of registers.
pub const REGISTERS: usize = 1 << P;
const P_MASK: u64 = REGISTERS as u64 - 1;
const BITS: usize = 6;
const REGISTER_MAX: u8 = (1 << BITS) - 1;
/// Header bytes before the registers.
pub const HDR_SIZE: usize = 16;
/// Length of a dense HLL string.
pub const DENSE_SIZE: usize = HDR_SIZE + (REGISTERS * BITS).div_ceil(8);
/// `hll-sparse-max-bytes`'s default.
pub const SPARSE_MAX_BYTES: usize = 3000;

/// The encoding byte.
pub const DENSE: u8 = 0;
pub const SPARSE: u8 = 1;

const SPARSE_VAL_MAX_VALUE: u8 = 32;
const SPARSE_VAL_MAX_LEN: usize = 4;
const SPARSE_ZERO_MAX_LEN: usize = 64;
const SPARSE_XZERO_MAX_LEN: usize = 16384;
const ALPHA_INF: f64 = 0.721_347_520_444_481_7; // 0.5 / ln(2)

/// Redis's reply for a string that is not an HLL.
pub const ERR_NOT_HLL: &str = "WRONGTYPE Key is not a valid HyperLogLog string value.";
/// Redis's reply for an HLL whose registers do not decode.
pub const ERR_CORRUPT: &str = "INVALIDOBJ Corrupted HLL object detected";

/// The registers did not decode (a sparse run past 16384 registers, or short of them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Corrupt;

/// MurmurHash2, 64-bit version (Austin Appleby's `MurmurHash64A`), reading words little-endian
/// as Redis's endian-neutral variant does.
pub fn murmur64a(key: &[u8], seed: u64) -> u64 {
    const M: u64 = 0xc6a4_a793_5bd1_e995;
    const R: u32 = 47;
    let mut h = seed ^ (key.len() as u64).wrapping_mul(M);
    let mut words = key.chunks_exact(8);
    for w in &mut words {
        let mut k = u64::from_le_bytes(w.try_into().expect("8 bytes"));
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h ^= k;
        h = h.wrapping_mul(M);
    }
    let tail = words.remainder();
    if !tail.is_empty() {
        for (i, &b) in tail.iter().enumerate() {
            h ^= (b as u64) << (8 * i);
        }
        h = h.wrapping_mul(M);
    }
    h ^= h >> R;
    h = h.wrapping_mul(M);
    h ^= h >> R;
    h
}

/// The register an element lands in and the value it offers (1..=Q+1).
pub fn pat_len(ele: &[u8]) -> (usize, u8) {
    let hash = murmur64a(ele, 0xadc8_3b19);
    let index = (hash & P_MASK) as usize;
    // The sentinel bit makes the run at most Q zeroes long.
    let rest = (hash >> P) | (1u64 << Q);
    (index, rest.trailing_zeros() as u8 + 1)
}

/// An empty HLL: sparse, one XZERO covering every register, cached cardinality 0 (valid).
pub fn new_sparse() -> Vec<u8> {
    let mut v = Vec::with_capacity(HDR_SIZE + 2);
    v.extend_from_slice(b"HYLL");
    v.push(SPARSE);
    v.extend_from_slice(&[0; 11]);
    let mut left = REGISTERS;
    while left > 0 {
        let n = left.min(SPARSE_XZERO_MAX_LEN);
        push_xzero(&mut v, n);
        left -= n;
    }
    v
}

/// Whether `b` passes Redis's `isHLLObjectOrReply` checks: the header, a known encoding, the
/// exact dense length. (Sparse registers are only checked where they are decoded.)
pub fn is_hll(b: &[u8]) -> bool {
    b.len() >= HDR_SIZE
        && &b[..4] == b"HYLL"
        && b[4] <= SPARSE
        && (b[4] != DENSE || b.len() == DENSE_SIZE)
}

pub fn encoding(b: &[u8]) -> u8 {
    b[4]
}

/// The cached cardinality, when valid.
pub fn cached_card(b: &[u8]) -> Option<u64> {
    if b[15] & 0x80 != 0 {
        return None;
    }
    Some(u64::from_le_bytes(b[8..16].try_into().expect("8 bytes")))
}

pub fn set_cached_card(b: &mut [u8], card: u64) {
    b[8..16].copy_from_slice(&card.to_le_bytes());
}

pub fn invalidate_cache(b: &mut [u8]) {
    b[15] |= 0x80;
}

// ---- dense registers -------------------------------------------------------------------

/// Register `i` of packed 6-bit registers (`regs` starts after the header).
pub fn dense_get(regs: &[u8], i: usize) -> u8 {
    let byte = i * BITS / 8;
    let fb = (i * BITS) & 7;
    let b0 = regs[byte] as u16;
    // The last register ends inside the last byte: the byte after it (Redis's sds
    // terminator) contributes nothing.
    let b1 = regs.get(byte + 1).copied().unwrap_or(0) as u16;
    (((b0 >> fb) | (b1 << (8 - fb))) as u8) & REGISTER_MAX
}

pub fn dense_set(regs: &mut [u8], i: usize, val: u8) {
    let byte = i * BITS / 8;
    let fb = (i * BITS) & 7;
    let v = val as u16;
    regs[byte] &= !((REGISTER_MAX as u16) << fb) as u8;
    regs[byte] |= (v << fb) as u8;
    if let Some(b1) = regs.get_mut(byte + 1) {
        *b1 &= !((REGISTER_MAX as u16) >> (8 - fb)) as u8;
        *b1 |= (v >> (8 - fb)) as u8;
    }
}

/// Raise register `i` to `val`; whether it changed.
fn dense_raise(regs: &mut [u8], i: usize, val: u8) -> bool {
    if val > dense_get(regs, i) {
        dense_set(regs, i, val);
        true
    } else {
        false
    }
}

// ---- sparse opcodes --------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Zero(usize),
    XZero(usize),
    /// (value, run length)
    Val(u8, usize),
}

impl Op {
    fn at(b: &[u8], p: usize) -> Op {
        let c = b[p];
        if c & 0xc0 == 0 {
            Op::Zero((c & 0x3f) as usize + 1)
        } else if c & 0x80 != 0 {
            Op::Val(((c >> 2) & 0x1f) + 1, (c & 0x3) as usize + 1)
        } else {
            // A truncated XZERO reads the missing byte as 0 (Redis reads the sds terminator).
            let lo = b.get(p + 1).copied().unwrap_or(0) as usize;
            Op::XZero(((((c & 0x3f) as usize) << 8) | lo) + 1)
        }
    }
    fn span(self) -> usize {
        match self {
            Op::Zero(n) | Op::XZero(n) | Op::Val(_, n) => n,
        }
    }
    fn width(self) -> usize {
        if matches!(self, Op::XZero(_)) {
            2
        } else {
            1
        }
    }
}

fn val_byte(val: u8, len: usize) -> u8 {
    0x80 | ((val - 1) << 2) | (len as u8 - 1)
}

fn push_xzero(v: &mut Vec<u8>, len: usize) {
    let l = len - 1;
    v.push(0x40 | (l >> 8) as u8);
    v.push((l & 0xff) as u8);
}

/// A zero run as ZERO or XZERO, as Redis chooses (ZERO up to 64).
fn push_zeros(v: &mut Vec<u8>, len: usize) {
    if len > SPARSE_ZERO_MAX_LEN {
        push_xzero(v, len);
    } else {
        v.push((len - 1) as u8);
    }
}

/// Sparse to dense (`hllSparseToDense`): the header (cached cardinality included) is kept.
/// A dense HLL is left alone.
pub fn to_dense(hll: &mut Vec<u8>) -> Result<(), Corrupt> {
    if hll[4] == DENSE {
        return Ok(());
    }
    let mut dense = vec![0u8; DENSE_SIZE];
    dense[..HDR_SIZE].copy_from_slice(&hll[..HDR_SIZE]);
    dense[4] = DENSE;
    let regs = &mut dense[HDR_SIZE..];
    let (mut idx, mut p) = (0usize, HDR_SIZE);
    while p < hll.len() {
        let op = Op::at(hll, p);
        if let Op::Val(v, n) = op {
            if idx + n > REGISTERS {
                break;
            }
            for i in idx..idx + n {
                dense_set(regs, i, v);
            }
        }
        idx += op.span();
        p += op.width();
    }
    if idx != REGISTERS {
        return Err(Corrupt);
    }
    *hll = dense;
    Ok(())
}

/// Raise register `index` of a sparse HLL to `count` (`hllSparseSet`), promoting it to dense
/// when the value or the resulting length calls for it. Whether the register changed.
pub fn sparse_set(
    hll: &mut Vec<u8>,
    index: usize,
    count: u8,
    max_bytes: usize,
) -> Result<bool, Corrupt> {
    if count > SPARSE_VAL_MAX_VALUE {
        return promote(hll, index, count);
    }
    // Step 1: the opcode covering `index`.
    let end = hll.len();
    let (mut p, mut first, mut prev) = (HDR_SIZE, 0usize, None::<usize>);
    let mut op = None;
    while p < end {
        let o = Op::at(hll, p);
        if index < first + o.span() {
            op = Some(o);
            break;
        }
        prev = Some(p);
        p += o.width();
        first += o.span();
    }
    let Some(op) = op else {
        return Err(Corrupt);
    };
    // Step 2: update in place, or build the replacement sequence.
    let mut replaced = false;
    match op {
        Op::Val(v, _) if v >= count => return Ok(false),
        Op::Val(_, 1) | Op::Zero(1) => {
            hll[p] = val_byte(count, 1);
            replaced = true;
        }
        _ => {}
    }
    if !replaced {
        let last = first + op.span() - 1;
        let mut seq: Vec<u8> = Vec::with_capacity(5);
        match op {
            Op::Zero(_) | Op::XZero(_) => {
                if index != first {
                    push_zeros(&mut seq, index - first);
                }
                seq.push(val_byte(count, 1));
                if index != last {
                    push_zeros(&mut seq, last - index);
                }
            }
            Op::Val(cur, _) => {
                if index != first {
                    seq.push(val_byte(cur, index - first));
                }
                seq.push(val_byte(count, 1));
                if index != last {
                    seq.push(val_byte(cur, last - index));
                }
            }
        }
        let old = op.width();
        if seq.len() > old && hll.len() + seq.len() - old > max_bytes {
            return promote(hll, index, count);
        }
        hll.splice(p..p + old, seq);
    }
    // Step 4: merge adjacent VAL opcodes of the same value, scanning up to 5 opcodes from the
    // one before the change.
    let mut p = prev.unwrap_or(HDR_SIZE);
    let mut scan = 5;
    while p < hll.len() && scan > 0 {
        scan -= 1;
        match Op::at(hll, p) {
            Op::XZero(_) => {
                p += 2;
                continue;
            }
            Op::Zero(_) => {
                p += 1;
                continue;
            }
            Op::Val(v1, l1) => {
                if p + 1 < hll.len() {
                    if let Op::Val(v2, l2) = Op::at(hll, p + 1) {
                        if v1 == v2 && l1 + l2 <= SPARSE_VAL_MAX_LEN {
                            hll[p + 1] = val_byte(v1, l1 + l2);
                            hll.remove(p);
                            // Try the merged opcode with the one on its right.
                            continue;
                        }
                    }
                }
                p += 1;
            }
        }
    }
    invalidate_cache(hll);
    Ok(true)
}

fn promote(hll: &mut Vec<u8>, index: usize, count: u8) -> Result<bool, Corrupt> {
    to_dense(hll)?;
    let changed = dense_raise(&mut hll[HDR_SIZE..], index, count);
    debug_assert!(changed, "a promotion always raises the register");
    Ok(changed)
}

/// Add one element (`hllAdd`); whether a register changed. The caller invalidates the cache.
pub fn add(hll: &mut Vec<u8>, ele: &[u8], max_bytes: usize) -> Result<bool, Corrupt> {
    let (index, count) = pat_len(ele);
    set_register(hll, index, count, max_bytes)
}

/// Raise one register, whatever the encoding.
pub fn set_register(
    hll: &mut Vec<u8>,
    index: usize,
    count: u8,
    max_bytes: usize,
) -> Result<bool, Corrupt> {
    match hll[4] {
        DENSE => Ok(dense_raise(&mut hll[HDR_SIZE..], index, count)),
        _ => sparse_set(hll, index, count, max_bytes),
    }
}

/// Fold the HLL into `max` (one byte per register): `max[i] = MAX(max[i], reg[i])`
/// (`hllMerge`).
pub fn merge_into(max: &mut [u8; REGISTERS], hll: &[u8]) -> Result<(), Corrupt> {
    if hll[4] == DENSE {
        let regs = &hll[HDR_SIZE..];
        for (i, m) in max.iter_mut().enumerate() {
            *m = (*m).max(dense_get(regs, i));
        }
        return Ok(());
    }
    let (mut i, mut p) = (0usize, HDR_SIZE);
    while p < hll.len() {
        let op = Op::at(hll, p);
        if let Op::Val(v, n) = op {
            if i + n > REGISTERS {
                break;
            }
            for m in &mut max[i..i + n] {
                *m = (*m).max(v);
            }
        }
        i += op.span();
        p += op.width();
    }
    if i != REGISTERS {
        return Err(Corrupt);
    }
    Ok(())
}

/// Registers per value (`reghisto`), from an HLL string. `Err` for sparse registers that do
/// not add up to 16384.
pub fn histogram(hll: &[u8]) -> Result<[u32; 64], Corrupt> {
    let mut h = [0u32; 64];
    if hll[4] == DENSE {
        let regs = &hll[HDR_SIZE..];
        for i in 0..REGISTERS {
            h[dense_get(regs, i) as usize] += 1;
        }
        return Ok(h);
    }
    let (mut idx, mut p) = (0usize, HDR_SIZE);
    while p < hll.len() {
        let op = Op::at(hll, p);
        let n = op.span();
        match op {
            Op::Val(v, _) => h[v as usize] += n as u32,
            _ => h[0] += n as u32,
        }
        idx += n;
        p += op.width();
    }
    if idx != REGISTERS {
        return Err(Corrupt);
    }
    Ok(h)
}

/// The histogram of one byte per register (the union PFCOUNT builds).
pub fn raw_histogram(regs: &[u8; REGISTERS]) -> [u32; 64] {
    let mut h = [0u32; 64];
    for &r in regs {
        h[(r & 63) as usize] += 1;
    }
    h
}

fn sigma(mut x: f64) -> f64 {
    if x == 1.0 {
        return f64::INFINITY;
    }
    let mut y = 1.0;
    let mut z = x;
    loop {
        x *= x;
        let prev = z;
        z += x * y;
        y += y;
        if prev == z {
            return z;
        }
    }
}

fn tau(mut x: f64) -> f64 {
    if x == 0.0 || x == 1.0 {
        return 0.0;
    }
    let mut y = 1.0;
    let mut z = 1.0 - x;
    loop {
        x = x.sqrt();
        let prev = z;
        y *= 0.5;
        let d = 1.0 - x;
        z -= d * d * y;
        if prev == z {
            return z / 3.0;
        }
    }
}

/// The cardinality estimate from a register histogram (`hllCount`).
pub fn estimate(h: &[u32; 64]) -> u64 {
    let m = REGISTERS as f64;
    let q = Q as usize;
    let mut z = m * tau((m - h[q + 1] as f64) / m);
    for j in (1..=q).rev() {
        z += h[j] as f64;
        z *= 0.5;
    }
    z += m * sigma(h[0] as f64 / m);
    (ALPHA_INF * m * m / z).round() as u64
}

/// The estimate of one HLL string.
pub fn count(hll: &[u8]) -> Result<u64, Corrupt> {
    Ok(estimate(&histogram(hll)?))
}

/// PFDEBUG DECODE's text of a sparse HLL (`Z:n`, `z:n`, `v:value,len`).
pub fn decode(hll: &[u8]) -> String {
    let mut out = String::new();
    let mut p = HDR_SIZE;
    while p < hll.len() {
        let op = Op::at(hll, p);
        if !out.is_empty() {
            out.push(' ');
        }
        match op {
            Op::Zero(n) => out.push_str(&format!("z:{n}")),
            Op::XZero(n) => out.push_str(&format!("Z:{n}")),
            Op::Val(v, n) => out.push_str(&format!("v:{v},{n}")),
        }
        p += op.width();
    }
    out
}

/// PFSELFTEST: register packing, then the estimate's error and the sparse/dense agreement
/// against a dense HLL fed the same elements. `Err` is the TESTFAILED message.
pub fn self_test(seed: u64, max_bytes: usize) -> Result<(), String> {
    // A small xorshift generator: the test needs varied values, not Redis's rand().
    let mut state = seed | 1;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut regs = vec![0u8; DENSE_SIZE - HDR_SIZE];
    let mut bytes = [0u8; REGISTERS];
    for _ in 0..100 {
        for (i, b) in bytes.iter_mut().enumerate() {
            let r = (next() & REGISTER_MAX as u64) as u8;
            *b = r;
            dense_set(&mut regs, i, r);
        }
        for (i, &b) in bytes.iter().enumerate() {
            let v = dense_get(&regs, i);
            if v != b {
                return Err(format!("TESTFAILED Register {i} should be {b} but is {v}"));
            }
        }
    }
    let mut dense = new_sparse();
    to_dense(&mut dense).map_err(|_| "TESTFAILED empty HLL".to_string())?;
    let mut sparse = new_sparse();
    let relerr = 1.04 / (REGISTERS as f64).sqrt();
    let seed = next();
    let mut checkpoint: u64 = 1;
    for j in 1..=1_000_000u64 {
        let ele = (j ^ seed).to_le_bytes();
        let _ = add(&mut dense, &ele, max_bytes);
        let _ = add(&mut sparse, &ele, max_bytes);
        if j != checkpoint {
            continue;
        }
        if (j as usize) < max_bytes / 2 && sparse[4] != SPARSE {
            return Err("TESTFAILED sparse encoding not used".into());
        }
        let d = count(&dense).map_err(|_| "TESTFAILED corrupt dense HLL")?;
        let s = count(&sparse).map_err(|_| "TESTFAILED corrupt sparse HLL")?;
        if d != s {
            return Err("TESTFAILED dense/sparse disagree".into());
        }
        let abserr = (checkpoint as i64 - d as i64).unsigned_abs();
        let maxerr = if j == 10 {
            1
        } else {
            (relerr * 6.0 * checkpoint as f64).ceil() as u64
        };
        if abserr > maxerr {
            return Err(format!(
                "TESTFAILED Too big error. card:{checkpoint} abserr:{abserr}"
            ));
        }
        checkpoint *= 10;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn add_all(hll: &mut Vec<u8>, range: std::ops::Range<u32>) -> usize {
        let mut changed = 0;
        for i in range {
            if add(hll, format!("ele:{i}").as_bytes(), SPARSE_MAX_BYTES).unwrap() {
                changed += 1;
            }
        }
        changed
    }

    #[test]
    fn murmur_matches_reference_values() {
        // MurmurHash64A's published behaviour: the empty input with seed 0 hashes to 0.
        assert_eq!(murmur64a(b"", 0), 0);
        // Tail handling and word handling both change the hash.
        assert_ne!(murmur64a(b"a", 0xadc83b19), murmur64a(b"b", 0xadc83b19));
        assert_ne!(
            murmur64a(b"abcdefgh", 0xadc83b19),
            murmur64a(b"abcdefgi", 0xadc83b19)
        );
    }

    #[test]
    fn empty_hll_is_one_xzero() {
        let h = new_sparse();
        assert_eq!(h.len(), 18);
        assert_eq!(&h[..5], b"HYLL\x01");
        assert_eq!(&h[16..], &[0x7f, 0xff]);
        assert!(is_hll(&h));
        assert_eq!(cached_card(&h), Some(0));
        assert_eq!(count(&h), Ok(0));
        assert_eq!(decode(&h), "Z:16384");
    }

    #[test]
    fn dense_registers_round_trip() {
        let mut regs = vec![0u8; DENSE_SIZE - HDR_SIZE];
        for i in 0..REGISTERS {
            dense_set(&mut regs, i, (i % 64) as u8);
        }
        for i in 0..REGISTERS {
            assert_eq!(dense_get(&regs, i), (i % 64) as u8, "register {i}");
        }
        dense_set(&mut regs, REGISTERS - 1, 63);
        assert_eq!(dense_get(&regs, REGISTERS - 1), 63);
        assert_eq!(
            dense_get(&regs, REGISTERS - 2),
            ((REGISTERS - 2) % 64) as u8
        );
    }

    #[test]
    fn sparse_and_dense_agree_and_promote() {
        let mut sparse = new_sparse();
        let mut dense = new_sparse();
        to_dense(&mut dense).unwrap();
        assert_eq!(dense.len(), DENSE_SIZE);
        let mut promoted_at = None;
        for i in 0..5000u32 {
            let e = format!("ele:{i}");
            let a = add(&mut sparse, e.as_bytes(), SPARSE_MAX_BYTES).unwrap();
            let b = add(&mut dense, e.as_bytes(), SPARSE_MAX_BYTES).unwrap();
            assert_eq!(a, b, "element {i}");
            if sparse[4] == SPARSE {
                assert!(sparse.len() <= SPARSE_MAX_BYTES);
                assert_eq!(histogram(&sparse), histogram(&dense), "element {i}");
            } else if promoted_at.is_none() {
                promoted_at = Some(i);
            }
        }
        assert!(promoted_at.is_some(), "5000 elements promote to dense");
        // After the promotion the two are the same registers, header aside.
        assert_eq!(&sparse[HDR_SIZE..], &dense[HDR_SIZE..]);
        // Sparse to dense of a still-sparse HLL gives the dense registers too.
        let mut s2 = new_sparse();
        let mut d2 = new_sparse();
        to_dense(&mut d2).unwrap();
        add_all(&mut s2, 0..200);
        add_all(&mut d2, 0..200);
        assert_eq!(s2[4], SPARSE);
        let mut s2d = s2.clone();
        to_dense(&mut s2d).unwrap();
        assert_eq!(&s2d[HDR_SIZE..], &d2[HDR_SIZE..]);
        let mut max = [0u8; REGISTERS];
        merge_into(&mut max, &s2).unwrap();
        assert_eq!(estimate(&raw_histogram(&max)), count(&d2).unwrap());
    }

    #[test]
    fn value_over_32_promotes() {
        let mut h = new_sparse();
        assert_eq!(sparse_set(&mut h, 7, 33, SPARSE_MAX_BYTES), Ok(true));
        assert_eq!(h[4], DENSE);
        assert_eq!(h.len(), DENSE_SIZE);
        assert_eq!(dense_get(&h[HDR_SIZE..], 7), 33);
    }

    #[test]
    fn sparse_splits_and_merges() {
        let mut h = new_sparse();
        assert_eq!(sparse_set(&mut h, 100, 3, SPARSE_MAX_BYTES), Ok(true));
        assert_eq!(decode(&h), "Z:100 v:3,1 Z:16283");
        assert_eq!(sparse_set(&mut h, 101, 3, SPARSE_MAX_BYTES), Ok(true));
        assert_eq!(decode(&h), "Z:100 v:3,2 Z:16282");
        assert_eq!(sparse_set(&mut h, 101, 2, SPARSE_MAX_BYTES), Ok(false));
        assert_eq!(sparse_set(&mut h, 0, 1, SPARSE_MAX_BYTES), Ok(true));
        assert_eq!(decode(&h), "v:1,1 Z:99 v:3,2 Z:16282");
        assert_eq!(sparse_set(&mut h, 16383, 5, SPARSE_MAX_BYTES), Ok(true));
        assert_eq!(decode(&h), "v:1,1 Z:99 v:3,2 Z:16281 v:5,1");
        assert_eq!(sparse_set(&mut h, 102, 1, SPARSE_MAX_BYTES), Ok(true));
        assert_eq!(decode(&h), "v:1,1 Z:99 v:3,2 v:1,1 Z:16280 v:5,1");
        assert_eq!(histogram(&h).unwrap()[0], 16384 - 5);
    }

    #[test]
    fn corrupted_sparse_is_detected() {
        let mut h = new_sparse();
        h[16] = 0x7e; // XZERO covering 16128 registers: short of 16384
        assert_eq!(histogram(&h), Err(Corrupt));
        assert_eq!(merge_into(&mut [0; REGISTERS], &h), Err(Corrupt));
        assert_eq!(to_dense(&mut h.clone()), Err(Corrupt));
        assert_eq!(sparse_set(&mut h, 16383, 1, SPARSE_MAX_BYTES), Err(Corrupt));
        assert!(!is_hll(b"HYLL\x00"));
        assert!(!is_hll(b"not an hll at all"));
        let mut bad_dense = vec![0u8; DENSE_SIZE - 1];
        bad_dense[..4].copy_from_slice(b"HYLL");
        assert!(!is_hll(&bad_dense));
    }

    #[test]
    fn estimate_within_two_percent_at_100k() {
        let mut h = new_sparse();
        add_all(&mut h, 0..100_000);
        let c = count(&h).unwrap() as f64;
        let err = (c - 100_000.0).abs() / 100_000.0;
        assert!(err < 0.02, "estimate {c} is {:.2}% off", err * 100.0);
        // Small sets are near exact.
        let mut s = new_sparse();
        add_all(&mut s, 0..10);
        assert_eq!(count(&s).unwrap(), 10);
    }

    #[test]
    fn cache_bits() {
        let mut h = new_sparse();
        invalidate_cache(&mut h);
        assert_eq!(cached_card(&h), None);
        set_cached_card(&mut h, 1234);
        assert_eq!(cached_card(&h), Some(1234));
    }

    #[test]
    fn self_test_passes() {
        assert_eq!(self_test(42, SPARSE_MAX_BYTES), Ok(()));
    }
}
