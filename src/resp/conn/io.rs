//! The connection's buffers: the reply buffer and the gathered writes that send it with large
//! pub/sub payloads queued by reference (`Spliced`), following and giving back the buffers'
//! allocations, and charging input and buffers to their budgets.

use std::io::IoSlice;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf, BytesMut};
use ferrite_resp::ReplyWriter;
use ferrite_topics::Message;
use std::collections::VecDeque;
use tokio::time::Instant;

use super::Session;
use crate::resp::buffers::{BUF_INITIAL, BUF_SHRINK_ABOVE};
use crate::resp::inflight::INPUT_CHARGE_ABOVE;
use crate::shared::ServerStats;

/// Pub/sub payloads this large are not copied into the reply buffer: the reply queue holds the
/// message itself and the socket write gathers it (`write_vectored`). With 1 KiB messages to 10
/// subscribers, copying each payload into every subscriber's buffer was ~19% of the server's CPU
/// (perf), on top of the kernel's own copy into the socket.
const SPLICE_MIN: usize = 512;
/// Most slices one vectored write gathers.
pub(super) const MAX_IOSLICES: usize = 64;

/// Large payloads queued by reference between the bytes of the reply buffer.
#[derive(Default)]
pub(super) struct Spliced {
    pub(super) queue: VecDeque<Splice>,
    /// Payload bytes still to write, over the whole queue.
    pub(super) bytes: usize,
    /// Bytes ever consumed from the front of the reply buffer: positions in `Splice::at` are
    /// absolute in that stream, so consuming never rewrites the queue.
    out_consumed: u64,
}

pub(super) struct Splice {
    /// The payload goes right before this absolute position of the reply-buffer stream.
    at: u64,
    msg: Arc<Message>,
    /// Payload bytes of it already written.
    off: usize,
}

/// The pending reply as slices in order: buffer bytes up to a queued payload, the payload,
/// and so on. Stops early (at a payload) when `slices` is full; the rest goes next write.
pub(super) fn io_slices<'a>(
    out: &'a BytesMut,
    spliced: &'a Spliced,
    slices: &mut [IoSlice<'a>; MAX_IOSLICES],
) -> usize {
    let (mut n, mut pos) = (0, 0);
    for sp in &spliced.queue {
        if n + 2 > MAX_IOSLICES {
            return n;
        }
        let at = (sp.at - spliced.out_consumed) as usize;
        if at > pos {
            slices[n] = IoSlice::new(&out[pos..at]);
            n += 1;
        }
        slices[n] = IoSlice::new(&sp.msg.payload[sp.off..]);
        n += 1;
        pos = at;
    }
    if pos < out.len() && n < MAX_IOSLICES {
        slices[n] = IoSlice::new(&out[pos..]);
        n += 1;
    }
    n
}

/// `written` bytes of the pending reply reached the socket.
pub(super) fn consume(out: &mut BytesMut, spliced: &mut Spliced, mut written: usize) {
    while written > 0 {
        let before_next = spliced
            .queue
            .front()
            .map_or(out.len(), |sp| (sp.at - spliced.out_consumed) as usize);
        let t = written.min(before_next);
        if t > 0 {
            out.advance(t);
            spliced.out_consumed += t as u64;
            written -= t;
            continue;
        }
        let sp = spliced
            .queue
            .front_mut()
            .expect("written no more than was pending");
        let t = written.min(sp.msg.payload.len() - sp.off);
        sp.off += t;
        spliced.bytes -= t;
        written -= t;
        if sp.off == sp.msg.payload.len() {
            spliced.queue.pop_front();
        }
    }
}

/// A bulk string of a pub/sub payload: copied when small, queued by reference when large.
pub(super) fn bulk_payload(w: &mut ReplyWriter<'_>, msg: &Arc<Message>, spliced: &mut Spliced) {
    let len = msg.payload.len();
    if len < SPLICE_MIN {
        w.bulk(&msg.payload);
        return;
    }
    w.bulk_header(len);
    spliced.queue.push_back(Splice {
        at: spliced.out_consumed + w.written() as u64,
        msg: msg.clone(),
        off: 0,
    });
    spliced.bytes += len;
    w.raw(b"\r\n");
}

/// A subscriber's reply buffer that grew past `BUF_SHRINK_ABOVE` is given back after it has
/// stayed empty this long. Not at once: a subscriber of a fast topic empties and refills a
/// large buffer thousands of times a second, and giving it back each time would regrow it by
/// doubling (one small message after another: realloc copies, fresh pages). Other connections
/// give a large reply buffer back as soon as it is written out (`reply_drained`): a large reply
/// is appended in one piece, so growing for the next one costs one allocation, and holding it
/// would keep memory charged to `maxmemory` for nothing. (The read buffer is fitted after every
/// batch: `resp/buffers.rs`.)
const BUF_SHRINK_AFTER: Duration = Duration::from_millis(500);

impl Session {
    /// Charge (or release) this connection's unparsed input against the listener-wide budget.
    /// Costs one branch while the buffer holds less than `INPUT_CHARGE_ABOVE` and nothing is
    /// charged: ordinary requests never touch the shared counter.
    #[inline]
    pub(super) fn charge_input(&mut self) {
        let len = self.inbuf.len();
        if len > INPUT_CHARGE_ABOVE || self.charged > 0 {
            let now = if len > INPUT_CHARGE_ABOVE { len } else { 0 };
            if now != self.charged {
                self.shared
                    .resp_input
                    .set(self.info.id, &mut self.charged, now);
            }
        }
    }

    /// Reply bytes not yet written: the buffer plus the payloads queued by reference.
    pub(super) fn pending(&self) -> usize {
        self.out.len() + self.spliced.bytes
    }

    pub(super) fn has_pending(&self) -> bool {
        !self.out.is_empty() || !self.spliced.queue.is_empty()
    }

    /// `written` bytes of the pending reply reached the socket.
    pub(super) fn consume(&mut self, written: usize) {
        consume(&mut self.out, &mut self.spliced, written);
        if self.out.is_empty() {
            self.reply_drained();
        }
    }

    /// Follow `out`'s allocation (see `out_alloc`). The end address stays put while the read
    /// position advances and when `BytesMut` moves pending bytes back to the front; it changes
    /// when `BytesMut` reallocates, which keeps the front already written out ahead of the
    /// data (`Vec::reserve` on the whole allocation). If `BytesMut` had first moved the data to
    /// the front in the same batch, this overcounts by that front until the buffer is next
    /// emptied: an overestimate, never an underestimate, and it does not accumulate.
    #[inline]
    fn sync_out(&mut self) {
        let (ptr, room) = (self.out.as_ptr() as usize, self.out.capacity());
        let end = ptr + room;
        if end == self.out_end {
            self.out_off = ptr.saturating_sub(end - self.out_alloc);
        } else {
            self.out_alloc = room + self.out_off;
            self.out_end = end;
        }
    }

    /// Every reply byte in `out` was written. A large allocation is given back now (a
    /// subscriber's after `BUF_SHRINK_AFTER`); a small one is moved back to its start, where
    /// `capacity()` is the whole allocation again, so `out_alloc` is exact from here. Neither
    /// allocates (the move copies nothing: the buffer is empty).
    pub(super) fn reply_drained(&mut self) {
        self.sync_out();
        if self.out_alloc > BUF_SHRINK_ABOVE && self.pubsub.is_none() {
            self.reset_out();
            return;
        }
        // Asking one byte more than the room: `try_reclaim` moves the read position back to
        // the start of the allocation, or declines when it is there already.
        let _ = self.out.try_reclaim(self.out.capacity() + 1);
        self.out_alloc = self.out.capacity();
        self.out_end = self.out.as_ptr() as usize + self.out_alloc;
        self.out_off = 0;
    }

    /// A new, small reply buffer.
    fn reset_out(&mut self) {
        self.out = BytesMut::with_capacity(BUF_INITIAL);
        self.out_alloc = self.out.capacity();
        self.out_end = self.out.as_ptr() as usize + self.out_alloc;
        self.out_off = 0;
    }

    /// Schedule giving a subscriber's large reply buffer back, once it is empty (see
    /// `BUF_SHRINK_AFTER`; other connections' go back at once, in `reply_drained`).
    pub(super) fn arm_shrink(&mut self) {
        let grew = self.out_alloc > BUF_SHRINK_ABOVE || self.in_alloc > BUF_INITIAL;
        if grew && self.shrink_at.is_none() && self.inbuf.is_empty() && !self.has_pending() {
            self.shrink_at = Some(Instant::now() + BUF_SHRINK_AFTER);
        }
    }

    pub(super) fn shrink_buffers(&mut self) {
        self.shrink_at = None;
        if !self.has_pending() && self.out_alloc > BUF_SHRINK_ABOVE {
            self.reset_out();
        }
        // A streaming client's grown read buffer (`STREAM_READ_MAX`) goes back once it is quiet.
        if self.inbuf.is_empty() && self.in_alloc > BUF_INITIAL && self.in_alloc <= BUF_SHRINK_ABOVE
        {
            self.inbuf = BytesMut::with_capacity(BUF_INITIAL);
            self.in_alloc = self.inbuf.capacity();
        }
    }

    pub(super) fn writer(&mut self) -> ReplyWriter<'_> {
        ReplyWriter::new(&mut self.out, self.resp3)
    }

    /// Charge the memory budget (`maxmemory`) for what the read and reply buffers' allocations
    /// hold, as Redis counts client buffers in `used_memory`, and publish it (INFO
    /// `mem_clients_normal`, /metrics, CLIENT LIST). Once per loop turn, and atomic adds only
    /// when an allocation changed, so the per-command path pays nothing. Growth first makes room
    /// as a write does (trims replay windows, evicts keys under allkeys-lru; Redis evicts for
    /// client buffers too) but is never refused: the bytes are already allocated, and what
    /// bounds them is `limits.query_buffer_limit` / `reply_buffer_limit`. Under noeviction the
    /// charge stands and writes get OOM until the buffer shrinks. This could only be done once the
    /// buffers stopped ratcheting (`resp/buffers.rs`, `reply_drained`): a pipelining client's read
    /// buffer used to sit at MiBs and evict keys for nothing.
    pub(super) fn charge_buffers(&mut self) {
        self.sync_out();
        let now = self.in_alloc + self.out_alloc;
        if now != self.buf_charged {
            let delta = now as isize - self.buf_charged as isize;
            self.buf_charged = now;
            if delta > 0 {
                // No shard lock is held here (between batches), so eviction may lock shards.
                let _ = self.shared.store.ensure_memory(delta as u64);
            }
            self.shared.store.budget().charge(delta);
            ServerStats::add_signed(&self.shared.stats.client_buffers, delta);
            // CLIENT LIST's `rbs` and `omem`.
            self.info
                .read_buf_bytes
                .store(self.in_alloc as u64, Ordering::Relaxed);
            self.info
                .reply_buf_bytes
                .store(self.out_alloc as u64, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod splice_tests {
    //! The gathered-write bookkeeping against a plain byte model: whatever sizes the socket
    //! accepts, the bytes leave in exactly the order they were queued.
    use super::*;
    use bytes::Bytes;
    use ferrite_topics::MessageKind;

    fn message(payload: Vec<u8>) -> Arc<Message> {
        Arc::new(Message {
            seq: 1,
            page: 1,
            payload: Bytes::from(payload),
            kind: MessageKind::Binary,
            publisher_id: Arc::from(""),
            published_at_ms: 0,
            stamp: 0,
        })
    }

    #[test]
    fn partial_writes_of_any_size_keep_the_byte_order() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut rand = move |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        for _ in 0..200 {
            let mut out = BytesMut::new();
            let mut spliced = Spliced::default();
            let mut want = Vec::new();
            let mut sent = Vec::new();
            // Interleave queuing (small copied bulks, large ones by reference, plain bytes)
            // with writes the socket accepts only partly.
            for step in 0..150 {
                match rand(3) {
                    0 => {
                        let len = [3, 100, 511, 512, 700, 5000][rand(6)];
                        let payload: Vec<u8> = (0..len).map(|i| (i + step) as u8).collect();
                        let mut w = ReplyWriter::new(&mut out, false);
                        bulk_payload(&mut w, &message(payload.clone()), &mut spliced);
                        want.extend_from_slice(format!("${len}\r\n").as_bytes());
                        want.extend_from_slice(&payload);
                        want.extend_from_slice(b"\r\n");
                    }
                    1 => {
                        out.extend_from_slice(b":7\r\n");
                        want.extend_from_slice(b":7\r\n");
                    }
                    _ => {
                        let mut slices = [IoSlice::new(&[]); MAX_IOSLICES];
                        let n = io_slices(&out, &spliced, &mut slices);
                        let gathered: Vec<u8> =
                            slices[..n].iter().flat_map(|s| s.iter().copied()).collect();
                        let accepted = if gathered.is_empty() {
                            0
                        } else {
                            1 + rand(gathered.len())
                        };
                        sent.extend_from_slice(&gathered[..accepted]);
                        consume(&mut out, &mut spliced, accepted);
                    }
                }
                assert_eq!(out.len() + spliced.bytes, want.len() - sent.len());
            }
            while !out.is_empty() || !spliced.queue.is_empty() {
                let mut slices = [IoSlice::new(&[]); MAX_IOSLICES];
                let n = io_slices(&out, &spliced, &mut slices);
                let gathered: Vec<u8> =
                    slices[..n].iter().flat_map(|s| s.iter().copied()).collect();
                sent.extend_from_slice(&gathered);
                consume(&mut out, &mut spliced, gathered.len());
            }
            assert!(sent == want, "bytes out of order");
            assert_eq!(spliced.bytes, 0);
        }
    }
}
