//! Replies whose size the client picks with a count rather than with stored data
//! (SRANDMEMBER/HRANDFIELD/ZRANDMEMBER with a negative count repeat elements as often as asked).
//!
//! Such a reply is refused before any work when even its smallest possible encoding would pass
//! `limits.reply_buffer_limit` (each element is at least [`MIN_BULK`] bytes), and is built against
//! that limit otherwise: the handler checks [`ReplyBudget::exceeded`] after each element and, past
//! the limit, drops what it wrote and answers the same error. So the work done under a shard lock
//! is bounded by the limit, never by the count (issue 12, finding 1).

use ferrite_resp::ReplyWriter;

use crate::resp::dispatch::Ctx;

/// The smallest RESP encoding of one bulk element: `$0\r\n\r\n`.
pub const MIN_BULK: u64 = 6;

/// The smallest RESP encoding of a score: RESP3 `,0\r\n` (RESP2's bulk is longer).
pub const MIN_SCORE: u64 = 4;

/// The reply size a command may still write, from where its reply starts.
pub struct ReplyBudget {
    start: usize,
    limit: u64,
}

impl ReplyBudget {
    /// Start a reply of `count` elements of at least `min_elem` bytes each; `None` (after
    /// writing the error) when it could not fit under the limit whatever the elements are.
    pub fn start(
        ctx: &Ctx<'_, '_>,
        w: &mut ReplyWriter<'_>,
        count: u64,
        min_elem: u64,
    ) -> Option<Self> {
        Self::start_with(limit(ctx), w, count, min_elem)
    }

    /// `start` with the limit read beforehand (a command that learns its count under a lock).
    pub fn start_with(
        limit: u64,
        w: &mut ReplyWriter<'_>,
        count: u64,
        min_elem: u64,
    ) -> Option<Self> {
        if count.saturating_mul(min_elem) > limit {
            w.error(&too_large(count, limit));
            return None;
        }
        Some(Self {
            start: w.written(),
            limit,
        })
    }

    /// True once the reply written since `start` passed the limit.
    #[inline]
    pub fn exceeded(&self, w: &ReplyWriter<'_>) -> bool {
        (w.written() - self.start) as u64 > self.limit
    }

    /// Replace what was written since `start` by the error (`count`: the elements asked for).
    pub fn refuse(&self, w: &mut ReplyWriter<'_>, count: u64) {
        w.truncate(self.start);
        w.error(&too_large(count, self.limit));
    }
}

/// `limits.reply_buffer_limit`, as configured now.
pub fn limit(ctx: &Ctx<'_, '_>) -> u64 {
    ctx.shared.config.read().limits.reply_buffer_limit
}

pub(crate) fn too_large(count: u64, limit: u64) -> String {
    format!(
        "ERR reply of {count} elements would exceed the reply buffer limit \
         (limits.reply_buffer_limit = {limit} bytes)"
    )
}
