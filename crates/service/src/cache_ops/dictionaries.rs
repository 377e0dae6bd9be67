//! Momento dictionaries (Redis hashes) on an admitted [`Op`]. A dictionary element, for the
//! element size limit, is its field plus its value. See `collections.rs` for the shared rules.

use bytes::Bytes;
use ferrite_storage::value::HashValue;
use ferrite_storage::Change;

use super::CollectionTtl;
use crate::admission::Op;
use crate::error::ServiceError;

impl Op<'_> {
    /// The value of each of `fields`, in order (None: no such field); None when the dictionary
    /// is absent.
    pub fn dictionary_get<'f>(
        &self,
        name: &[u8],
        fields: impl IntoIterator<Item = &'f [u8]>,
    ) -> Result<Option<Vec<Option<Bytes>>>, ServiceError> {
        self.read::<HashValue, _>(name, |h| {
            fields.into_iter().map(|f| h.get(f).cloned()).collect()
        })
    }

    /// Every field and value; None when the dictionary is absent.
    pub fn dictionary_fetch(
        &self,
        name: &[u8],
    ) -> Result<Option<Vec<(Bytes, Bytes)>>, ServiceError> {
        self.read::<HashValue, _>(name, |h| {
            h.iter().map(|(f, v)| (f.clone(), v.clone())).collect()
        })
    }

    /// Set `(field, value)` pairs (creating the dictionary). Every pair is checked against the
    /// element limit first, then the TTL.
    pub fn dictionary_set(
        &self,
        name: &[u8],
        items: Vec<(Bytes, Bytes)>,
        ttl: CollectionTtl,
    ) -> Result<(), ServiceError> {
        let incoming = self.check_elements(items.iter().map(|(f, v)| f.len() + v.len()))?;
        let ttl = self.coll_ttl(ttl)?;
        self.upsert::<HashValue, _>(
            name,
            ttl,
            incoming,
            |h| {
                for (f, v) in items {
                    h.insert(f, v);
                }
                Ok(())
            },
            |_, _, _| &[Change::HSet],
        )
    }

    /// Fields hold base-10 i64 strings; a missing field starts at 0. A non-integer value or an
    /// overflow is `FailedPrecondition` (as scalar Increment) and changes nothing. The new value.
    pub fn dictionary_increment(
        &self,
        name: &[u8],
        field: Bytes,
        amount: i64,
        ttl: CollectionTtl,
    ) -> Result<i64, ServiceError> {
        self.service().limits.check_element_size(field.len())?;
        let ttl = self.coll_ttl(ttl)?;
        let incoming = field.len() + 20;
        self.upsert::<HashValue, _>(
            name,
            ttl,
            incoming,
            |h| {
                let base = match h.get(&field) {
                    None => 0,
                    Some(b) => std::str::from_utf8(b)
                        .ok()
                        .and_then(|t| t.parse::<i64>().ok())
                        .ok_or_else(|| {
                            ServiceError::FailedPrecondition(
                                "the dictionary field's value is not a base-10 64-bit integer"
                                    .into(),
                            )
                        })?,
                };
                let v = base.checked_add(amount).ok_or_else(|| {
                    ServiceError::FailedPrecondition(
                        "increment would overflow a 64-bit integer".into(),
                    )
                })?;
                h.insert(field, Bytes::from(v.to_string()));
                Ok(v)
            },
            |_, _, _| &[Change::HIncrBy],
        )
    }

    /// Remove `fields` (the dictionary disappears when emptied); whether the dictionary existed.
    pub fn dictionary_remove_fields<'f>(
        &self,
        name: &[u8],
        fields: impl IntoIterator<Item = &'f [u8]>,
    ) -> Result<bool, ServiceError> {
        let found = self.modify::<HashValue, _>(
            name,
            None,
            |h| {
                for f in fields {
                    h.remove(f);
                }
                Ok(())
            },
            |_, before, after| if after < before { &[Change::HDel] } else { &[] },
        )?;
        Ok(found.is_some())
    }

    /// Delete the whole dictionary (`WrongType` for another type: use `delete` for any item);
    /// whether it existed.
    pub fn dictionary_delete(&self, name: &[u8]) -> Result<bool, ServiceError> {
        self.delete_coll::<HashValue>(name)
    }

    /// The number of fields; None when the dictionary is absent.
    pub fn dictionary_length(&self, name: &[u8]) -> Result<Option<usize>, ServiceError> {
        self.read::<HashValue, _>(name, |h| h.len())
    }
}
