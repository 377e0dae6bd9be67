//! Which compact encoding Redis 7.0 would give a value, from its size and its configured
//! thresholds. DUMP writes that encoding, and OBJECT ENCODING names it, so both agree with each
//! other and with redis-server for values built the same way.
//!
//! One difference is inherent: Redis converts a value to the large encoding once and never back,
//! while Ferrite's storage has one representation and the choice here is made from the value's
//! size now.

/// The thresholds Redis 7.0 reads from its configuration (`hash-max-listpack-entries`, ...), with
/// Redis's defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Thresholds {
    pub hash_max_listpack_entries: usize,
    pub hash_max_listpack_value: usize,
    pub zset_max_listpack_entries: usize,
    pub zset_max_listpack_value: usize,
    pub set_max_intset_entries: usize,
    /// `list-max-listpack-size`: negative = a node size class (-2 = 8 KiB), positive = elements
    /// per node.
    pub list_max_listpack_size: i64,
    /// `stream-node-max-bytes` / `stream-node-max-entries`: where a stream's nodes are cut.
    pub stream_node_max_bytes: usize,
    pub stream_node_max_entries: usize,
    /// `rdbcompression`: LZF-compress strings longer than 20 bytes when it saves space.
    pub rdbcompression: bool,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            hash_max_listpack_entries: 512,
            hash_max_listpack_value: 64,
            zset_max_listpack_entries: 128,
            zset_max_listpack_value: 64,
            set_max_intset_entries: 512,
            list_max_listpack_size: -2,
            stream_node_max_bytes: 4096,
            stream_node_max_entries: 100,
            rdbcompression: true,
        }
    }
}

impl Thresholds {
    /// A hash of `len` fields whose longest field or value is `longest` bytes.
    pub fn hash_is_listpack(&self, len: usize, longest: usize) -> bool {
        len <= self.hash_max_listpack_entries && longest <= self.hash_max_listpack_value
    }

    /// A sorted set of `len` members whose longest member is `longest` bytes.
    pub fn zset_is_listpack(&self, len: usize, longest: usize) -> bool {
        self.zset_max_listpack_entries != 0
            && len <= self.zset_max_listpack_entries
            && longest <= self.zset_max_listpack_value
    }

    /// A set of `len` members, all canonical integers or not.
    pub fn set_is_intset(&self, len: usize, all_integers: bool) -> bool {
        all_integers && len <= self.set_max_intset_entries
    }

    pub fn hash_encoding(&self, len: usize, longest: usize) -> &'static str {
        if self.hash_is_listpack(len, longest) {
            "listpack"
        } else {
            "hashtable"
        }
    }

    pub fn zset_encoding(&self, len: usize, longest: usize) -> &'static str {
        if self.zset_is_listpack(len, longest) {
            "listpack"
        } else {
            "skiplist"
        }
    }

    pub fn set_encoding(&self, len: usize, all_integers: bool) -> &'static str {
        if self.set_is_intset(len, all_integers) {
            "intset"
        } else {
            "hashtable"
        }
    }

    /// Redis 7.0 keeps every list in a quicklist.
    pub fn list_encoding(&self) -> &'static str {
        "quicklist"
    }
}
