//! Sizing a RESP connection's read buffer so that its allocation is known exactly: it is
//! charged to `maxmemory` (issue 12, finding 4), so it must follow what the connection really
//! holds, and come back down once a large command is consumed.
//!
//! `BytesMut` does not say how large its allocation is: `capacity()` is the room from the read
//! position, which `split_to`/`advance` move forward, and `reserve` either moves the unparsed
//! tail back to the front (only when the consumed front is at least as long as the tail) or
//! reallocates to double the whole allocation. The old loop reserved "as much again as the
//! buffer holds" right after a read, before the parser had consumed the complete commands that
//! read brought in: a pipelining client's buffer was then full of commands, the front had not
//! been consumed yet, and every full read doubled the allocation (1 KB SETs pipelined: 4 MiB;
//! 1 MiB SETs: 13 MiB, kept until the connection went idle). Here every allocation is made by
//! [`fit_read_buf`], after parsing, from what the unparsed tail still needs; moving the tail to
//! the front uses `try_reclaim`, which never allocates.

use bytes::BytesMut;

/// Initial size of the read and reply buffers, and what they return to.
pub const BUF_INITIAL: usize = 16 * 1024;
/// A buffer allocated past this is given back as soon as what it holds fits in much less.
pub const BUF_SHRINK_ABOVE: usize = 256 * 1024;
/// How large a read buffer grows for a client that streams (its reads fill all the room they
/// are given: more is waiting in the socket). 16 KiB reads cost a pipelining publisher of 1 KiB
/// messages one `recv` and one reply `send` per ~15 messages; at 3bf1178 the buffer (then
/// growing without bound) took ~340 per syscall and delivered 1.7x the messages per second.
/// Kept at most `BUF_SHRINK_ABOVE`, so the shrink rule below leaves it alone; it goes back to
/// `BUF_INITIAL` once the connection has been quiet for `BUF_SHRINK_AFTER` (`resp/conn/io.rs`).
pub const STREAM_READ_MAX: usize = 128 * 1024;
/// A read counts as streaming when it filled all its room and brought at least this much (a
/// read that filled the last few bytes before the buffer is compacted says nothing).
pub const STREAM_READ_MIN: usize = BUF_INITIAL / 2;
/// Least room a read is given: smaller reads would cost a syscall for a few bytes.
const MIN_READ_ROOM: usize = 512;
/// Room left after a large command for the headers of the next one.
const NEXT_HEADERS: usize = 4096;

/// Whether [`fit_read_buf`] has anything to do. One compare on the hot path: a small buffer
/// with room for a read is left alone.
#[inline]
pub fn read_buf_needs_fit(buf: &BytesMut, alloc: usize) -> bool {
    buf.capacity() - buf.len() < MIN_READ_ROOM || alloc > BUF_SHRINK_ABOVE
}

/// Make room for the next read once everything complete in `buf` was parsed; `alloc` is the
/// size of `buf`'s allocation (kept exact: every allocation of `buf` is made here). Returns
/// whether the allocation changed.
///
/// The room wanted is what the unparsed tail holds, doubled (amortised growth for one large
/// command), never more than the command in progress still declares nor past the query buffer
/// limit: memory follows the bytes that arrived, so a declared 400 MB bulk with 100 KiB sent
/// holds ~200 KiB, not 400 MB. A buffer that grew past `BUF_SHRINK_ABOVE` goes back to the size
/// its tail needs as soon as that is less than half of it: the large command was consumed (and
/// the next one, if its headers arrived, does not declare that it needs the room).
/// `streaming`: the last read filled all the room it had; the buffer then doubles, up to
/// [`STREAM_READ_MAX`], so the next reads take more per syscall.
pub fn fit_read_buf(
    buf: &mut BytesMut,
    alloc: &mut usize,
    query_limit: usize,
    streaming: bool,
) -> bool {
    debug_assert!(
        buf.capacity() <= *alloc,
        "the allocation changed behind our back"
    );
    let len = buf.len();
    let mut want = len.max(BUF_INITIAL);
    // What the command in progress still declares it needs, when its headers are complete,
    // plus room for the headers of the command after it: a read then brings those in with the
    // end of this one, and a pipelined large command can reuse the buffer (below).
    let rest = ferrite_resp::pending_bulk_hint(buf).map(|r| r.saturating_add(NEXT_HEADERS));
    if let Some(rest) = rest {
        // All of it when that is barely more than doubling, so that the frame's last few bytes
        // (its headers' share) do not cost one more copy of the whole frame.
        want = if rest <= want + want / 8 { rest } else { want };
    }
    want = want.min(query_limit.saturating_sub(len).max(4096));
    let target = (len + want).max(BUF_INITIAL);
    // Keep a large allocation while the command after the one just consumed declares that it
    // needs at least half of it (pipelined large SETs reuse one buffer); that memory was
    // already spent on bytes that arrived.
    let declared = rest.map_or(0, |r| len.saturating_add(r - NEXT_HEADERS));
    if *alloc > BUF_SHRINK_ABOVE && *alloc / 2 > target && *alloc / 2 > declared {
        reallocate(buf, alloc, target);
        return true;
    }
    if streaming && *alloc < STREAM_READ_MAX && target <= *alloc {
        reallocate(buf, alloc, (*alloc * 2).min(STREAM_READ_MAX));
        return true;
    }
    if buf.capacity() - len >= MIN_READ_ROOM {
        return false;
    }
    // Reuse the allocation when moving the tail to its front leaves enough room: no
    // allocation, which keeps warm pipelined traffic allocation-free (`tests/zero_alloc.rs`).
    // `try_reclaim` refuses when the tail is longer than the consumed front (or the buffer is
    // still shared); then a new allocation is made.
    if *alloc - len >= (want / 2).max(MIN_READ_ROOM) && buf.try_reclaim(*alloc - len) {
        return false;
    }
    reallocate(buf, alloc, target);
    true
}

/// Move the unparsed bytes into a new allocation of `size` bytes.
fn reallocate(buf: &mut BytesMut, alloc: &mut usize, size: usize) {
    let mut fresh = BytesMut::with_capacity(size.max(buf.len()));
    fresh.extend_from_slice(buf);
    *alloc = fresh.capacity();
    *buf = fresh;
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrite_resp::{parse_command, Bytes, ParseLimits};

    fn set(key: &str, value_len: usize) -> Vec<u8> {
        let mut v = format!(
            "*3\r\n$3\r\nSET\r\n${}\r\n{key}\r\n${value_len}\r\n",
            key.len()
        )
        .into_bytes();
        v.resize(v.len() + value_len, b'v');
        v.extend_from_slice(b"\r\n");
        v
    }

    /// What the connection loop does with `input` arriving in reads as large as the room it
    /// is given (at most `max_read`): read, parse everything complete, fit. Returns the largest
    /// allocation, the one left at the end and how many allocations were made.
    fn feed(input: &[u8], max_read: usize) -> (usize, usize, usize) {
        feed_with(input, max_read, false)
    }

    /// [`feed`], telling `fit_read_buf` when a read filled all its room when `stream`.
    fn feed_with(input: &[u8], max_read: usize, stream: bool) -> (usize, usize, usize) {
        let mut buf = BytesMut::with_capacity(BUF_INITIAL);
        let mut alloc = buf.capacity();
        let mut args: Vec<Bytes> = Vec::new();
        let (mut peak, mut at, mut commands, mut allocs) = (alloc, 0, 0, 0);
        let limits = ParseLimits::default();
        while at < input.len() {
            let room = buf.capacity() - buf.len();
            assert!(room >= MIN_READ_ROOM, "a read is given room");
            let n = room.min(max_read).min(input.len() - at);
            buf.extend_from_slice(&input[at..at + n]);
            at += n;
            assert!(buf.capacity() <= alloc, "reads never allocate");
            while parse_command(&mut buf, &limits, &mut args).unwrap() {
                commands += 1;
                args.clear();
            }
            let filled = stream && n == room && n >= STREAM_READ_MIN;
            if read_buf_needs_fit(&buf, alloc)
                && fit_read_buf(&mut buf, &mut alloc, 1 << 30, filled)
            {
                allocs += 1;
            }
            peak = peak.max(alloc);
        }
        assert!(buf.is_empty() && commands > 0);
        (peak, alloc, allocs)
    }

    /// A client whose reads fill the buffer (more waits in the socket) gets a buffer that
    /// doubles up to `STREAM_READ_MAX`, not past it; one whose reads come in small pieces keeps
    /// the initial buffer.
    #[test]
    fn a_streaming_client_grows_its_read_buffer_to_the_stream_cap() {
        let mut input = Vec::new();
        for i in 0..10_000 {
            input.extend(set(&format!("key:{i:05}"), 1000));
        }
        let (peak, end, allocs) = feed_with(&input, usize::MAX, true);
        assert_eq!(peak, STREAM_READ_MAX);
        assert_eq!(end, STREAM_READ_MAX);
        assert!(allocs <= 4, "{allocs} allocations");
        let (peak, _, allocs) = feed_with(&input, 4096, true);
        assert_eq!((peak, allocs), (BUF_INITIAL, 0));
    }

    #[test]
    fn pipelined_small_commands_stay_in_the_initial_buffer() {
        let mut input = Vec::new();
        for i in 0..10_000 {
            input.extend(set(&format!("key:{i:05}"), 1000));
        }
        for max_read in [usize::MAX, 65536, 1000, 777] {
            let (peak, end, allocs) = feed(&input, max_read);
            // The allocation follows the longest partial command, not the pipeline (it
            // doubled to 4 MiB here), and moving the tail to the front allocates nothing.
            assert_eq!(peak, BUF_INITIAL, "read {max_read}");
            assert_eq!(end, BUF_INITIAL);
            assert_eq!(allocs, 0, "read {max_read}");
        }
    }

    #[test]
    fn a_large_command_grows_the_buffer_and_gives_it_back_once_consumed() {
        let mut input = Vec::new();
        for i in 0..20 {
            input.extend(set(&format!("k{i}"), 1 << 20));
        }
        for max_read in [usize::MAX, 65536, 3000] {
            let (peak, end, allocs) = feed(&input, max_read);
            // About one value (doubling from what arrived, capped by what was declared); it was
            // 13 MiB for this sequence.
            assert!(
                peak <= (1 << 20) + (1 << 19),
                "read {max_read}: peak {peak}"
            );
            assert!(peak > 1 << 20, "read {max_read}: peak {peak}");
            assert_eq!(end, BUF_INITIAL);
            // Growing to the first value doubles 6 times; the values after it reuse that
            // buffer (their headers declare they need it), and the end gives it back.
            assert!(allocs <= 8, "read {max_read}: {allocs} allocations");
        }
    }

    #[test]
    fn a_declared_bulk_reserves_only_what_arrived() {
        let mut buf = BytesMut::with_capacity(BUF_INITIAL);
        let mut alloc = buf.capacity();
        buf.extend_from_slice(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$400000000\r\n");
        let limits = ParseLimits::default();
        let mut args = Vec::new();
        let mut sent = 0;
        while sent < 100 * 1024 {
            let n = (buf.capacity() - buf.len()).min(100 * 1024 - sent);
            buf.extend_from_slice(&vec![b'x'; n]);
            sent += n;
            assert!(!parse_command(&mut buf, &limits, &mut args).unwrap());
            if read_buf_needs_fit(&buf, alloc) {
                fit_read_buf(&mut buf, &mut alloc, 1 << 30, false);
            }
        }
        assert!(
            (100 * 1024..=256 * 1024).contains(&alloc),
            "alloc {alloc} for 100 KiB received"
        );
    }

    #[test]
    fn growth_stops_at_the_query_buffer_limit() {
        let mut buf = BytesMut::with_capacity(BUF_INITIAL);
        let mut alloc = buf.capacity();
        buf.extend_from_slice(&vec![b'x'; BUF_INITIAL - 100]);
        fit_read_buf(&mut buf, &mut alloc, 20_000, false);
        assert!(alloc <= 20_000 + 4096, "alloc {alloc}");
    }
}
