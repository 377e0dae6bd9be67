//! Momento sets (Redis sets) on an admitted [`Op`]. See `collections.rs` for the shared rules.

use bytes::Bytes;
use ferrite_storage::value::SetValue;
use ferrite_storage::Change;
use rand::Rng;

use super::CollectionTtl;
use crate::admission::Op;
use crate::error::ServiceError;

impl Op<'_> {
    /// Every member; None when the set is absent.
    pub fn set_fetch(&self, name: &[u8]) -> Result<Option<Vec<Bytes>>, ServiceError> {
        self.read::<SetValue, _>(name, |s| s.iter().cloned().collect())
    }

    /// Up to `limit` distinct random members (all of them when `limit` >= the size); None when
    /// the set is absent.
    pub fn set_sample(
        &self,
        name: &[u8],
        limit: usize,
    ) -> Result<Option<Vec<Bytes>>, ServiceError> {
        self.read::<SetValue, _>(name, |s| {
            if limit >= s.len() {
                return s.iter().cloned().collect();
            }
            rand::seq::index::sample(&mut rand::thread_rng(), s.len(), limit)
                .into_iter()
                .filter_map(|i| s.get_index(i).cloned())
                .collect()
        })
    }

    /// Add `elements` (creating the set). Every element is checked against the element limit
    /// first, then the TTL.
    pub fn set_union(
        &self,
        name: &[u8],
        elements: Vec<Bytes>,
        ttl: CollectionTtl,
    ) -> Result<(), ServiceError> {
        let incoming = self.check_elements(elements.iter().map(Bytes::len))?;
        let ttl = self.coll_ttl(ttl)?;
        self.upsert::<SetValue, _>(
            name,
            ttl,
            incoming,
            |s| {
                for e in elements {
                    s.insert(e);
                }
                Ok(())
            },
            |_, before, after| if after > before { &[Change::SAdd] } else { &[] },
        )
    }

    /// Remove `elements` (SetDifference with a subtrahend set: the SDKs' "remove elements"; the
    /// set disappears when emptied); whether the set existed.
    pub fn set_remove_elements<'e>(
        &self,
        name: &[u8],
        elements: impl IntoIterator<Item = &'e [u8]>,
    ) -> Result<bool, ServiceError> {
        let found = self.modify::<SetValue, _>(
            name,
            None,
            |s| {
                for e in elements {
                    s.remove(e);
                }
                Ok(())
            },
            |_, before, after| if after < before { &[Change::SRem] } else { &[] },
        )?;
        Ok(found.is_some())
    }

    /// Delete the whole set (SetDifference with the identity subtrahend; `WrongType` for
    /// another type); whether it existed.
    pub fn set_delete(&self, name: &[u8]) -> Result<bool, ServiceError> {
        self.delete_coll::<SetValue>(name)
    }

    /// SetDifference with a minuend: an existing set becomes `minuend - stored` (Redis's
    /// SDIFFSTORE event); whether the set existed (an absent one stays absent).
    pub fn set_replace_with_difference(
        &self,
        name: &[u8],
        minuend: Vec<Bytes>,
    ) -> Result<bool, ServiceError> {
        let incoming = self.check_elements(minuend.iter().map(Bytes::len))?;
        self.ensure_memory(incoming)?;
        let found = self.modify::<SetValue, _>(
            name,
            None,
            |s| {
                let mut next = SetValue::new();
                for e in minuend {
                    if !s.contains(&e) {
                        next.insert(e);
                    }
                }
                *s = next;
                Ok(())
            },
            // The set is replaced by a difference: Redis's SDIFFSTORE event.
            |_, _, _| &[Change::SDiffStore],
        )?;
        Ok(found.is_some())
    }

    /// Whether the set holds each of `elements`, in order; None when the set is absent.
    pub fn set_contains<'e>(
        &self,
        name: &[u8],
        elements: impl IntoIterator<Item = &'e [u8]>,
    ) -> Result<Option<Vec<bool>>, ServiceError> {
        self.read::<SetValue, _>(name, |s| {
            elements.into_iter().map(|e| s.contains(e)).collect()
        })
    }

    /// The number of members; None when the set is absent.
    pub fn set_length(&self, name: &[u8]) -> Result<Option<usize>, ServiceError> {
        self.read::<SetValue, _>(name, |s| s.len())
    }

    /// Remove and return up to `count` random members (a set emptied this way disappears);
    /// None when the set is absent.
    pub fn set_pop(&self, name: &[u8], count: usize) -> Result<Option<Vec<Bytes>>, ServiceError> {
        self.modify::<SetValue, _>(
            name,
            None,
            |s| {
                let mut rng = rand::thread_rng();
                let n = count.min(s.len());
                let mut out = Vec::with_capacity(n);
                for _ in 0..n {
                    let i = rng.gen_range(0..s.len());
                    if let Some(m) = s.swap_remove_index(i) {
                        out.push(m);
                    }
                }
                Ok(out)
            },
            |_, before, after| if after < before { &[Change::SPop] } else { &[] },
        )
    }
}
