//! Scalar RPCs of `cache_client.Scs`: protobuf → the service's scalar operations on the admitted
//! `Op` (`ferrite_service::cache_ops::scalars`, shared with the HTTP API) → protobuf. Momento's
//! rules (item size with the key counted, TTL bounds, eviction before writing, Redis's event for
//! each write) are the service's; only the wire shapes live here.

use ferrite_service::cache_ops::scalars::{
    value_hash, HashCondition, SetCondition, TtlUpdate, TtlUpdated,
};
use ferrite_service::Op;
use ferrite_storage::ValueKind;
use momento_protos::cache_client::*;
use tonic::Status;

use super::errors::{self, status};

const HIT: i32 = ECacheResult::Hit as i32;
const MISS: i32 = ECacheResult::Miss as i32;
const OK: i32 = ECacheResult::Ok as i32;

type R<T> = Result<T, Status>;

pub fn get(op: &Op, req: GetRequest) -> R<GetResponse> {
    Ok(match op.get(&req.cache_key).map_err(status)? {
        Some(b) => GetResponse {
            result: HIT,
            cache_body: b.to_vec(),
            message: String::new(),
        },
        None => GetResponse {
            result: MISS,
            cache_body: Vec::new(),
            message: String::new(),
        },
    })
}

pub fn get_with_hash(op: &Op, req: GetWithHashRequest) -> R<GetWithHashResponse> {
    use get_with_hash_response::{Found, Missing, Result as Res};
    Ok(GetWithHashResponse {
        result: Some(match op.get(&req.cache_key).map_err(status)? {
            Some(b) => Res::Found(Found {
                hash: value_hash(&b),
                value: b.to_vec(),
            }),
            None => Res::Missing(Missing {}),
        }),
    })
}

pub fn get_batch(op: &Op, req: GetBatchRequest) -> R<Vec<GetResponse>> {
    req.items.into_iter().map(|r| get(op, r)).collect()
}

pub fn set(op: &Op, req: SetRequest) -> R<SetResponse> {
    op.set(&req.cache_key, &req.cache_body, req.ttl_milliseconds)
        .map_err(status)?;
    Ok(SetResponse {
        result: OK,
        message: String::new(),
    })
}

/// Every item is validated first; one bad item fails the call and nothing is stored.
pub fn set_batch(op: &Op, req: SetBatchRequest) -> R<Vec<SetResponse>> {
    op.set_batch(
        req.items
            .iter()
            .map(|r| (&r.cache_key[..], &r.cache_body[..], r.ttl_milliseconds)),
    )
    .map_err(status)?;
    Ok(req
        .items
        .iter()
        .map(|_| SetResponse {
            result: OK,
            message: String::new(),
        })
        .collect())
}

pub fn set_if(op: &Op, req: SetIfRequest) -> R<SetIfResponse> {
    use set_if_request::Condition as C;
    use set_if_response::{NotStored, Result as Res, Stored};
    let cond = match &req.condition {
        None => return Err(errors::invalid("SetIf needs a condition")),
        Some(C::Present(_)) => SetCondition::Present,
        Some(C::PresentAndNotEqual(x)) => SetCondition::PresentAndNotEqual(&x.value_to_check),
        Some(C::Absent(_)) => SetCondition::Absent,
        Some(C::Equal(x)) => SetCondition::Equal(&x.value_to_check),
        Some(C::AbsentOrEqual(x)) => SetCondition::AbsentOrEqual(&x.value_to_check),
        Some(C::NotEqual(x)) => SetCondition::NotEqual(&x.value_to_check),
    };
    let stored = op
        .set_if(&req.cache_key, &req.cache_body, req.ttl_milliseconds, cond)
        .map_err(status)?;
    Ok(SetIfResponse {
        result: Some(if stored {
            Res::Stored(Stored {})
        } else {
            Res::NotStored(NotStored {})
        }),
    })
}

pub fn set_if_hash(op: &Op, req: SetIfHashRequest) -> R<SetIfHashResponse> {
    use set_if_hash_request::Condition as C;
    use set_if_hash_response::{NotStored, Result as Res, Stored};
    let cond = match &req.condition {
        None => return Err(errors::invalid("SetIfHash needs a condition")),
        Some(C::PresentAndNotHashEqual(x)) => {
            HashCondition::PresentAndNotHashEqual(&x.hash_to_check)
        }
        Some(C::PresentAndHashEqual(x)) => HashCondition::PresentAndHashEqual(&x.hash_to_check),
        Some(C::AbsentOrHashEqual(x)) => HashCondition::AbsentOrHashEqual(&x.hash_to_check),
        Some(C::AbsentOrNotHashEqual(x)) => HashCondition::AbsentOrNotHashEqual(&x.hash_to_check),
        Some(C::Unconditional(_)) => HashCondition::Unconditional,
    };
    let stored = op
        .set_if_hash(&req.cache_key, &req.cache_body, req.ttl_milliseconds, cond)
        .map_err(status)?;
    Ok(SetIfHashResponse {
        result: Some(if stored {
            Res::Stored(Stored {
                new_hash: value_hash(&req.cache_body),
            })
        } else {
            Res::NotStored(NotStored {})
        }),
    })
}

pub fn set_if_not_exists(op: &Op, req: SetIfNotExistsRequest) -> R<SetIfNotExistsResponse> {
    use set_if_not_exists_response::{NotStored, Result as Res, Stored};
    let stored = op
        .set_if_not_exists(&req.cache_key, &req.cache_body, req.ttl_milliseconds)
        .map_err(status)?;
    Ok(SetIfNotExistsResponse {
        result: Some(if stored {
            Res::Stored(Stored {})
        } else {
            Res::NotStored(NotStored {})
        }),
    })
}

/// Delete any item (any type); deleting a missing key succeeds.
pub fn delete(op: &Op, req: DeleteRequest) -> R<DeleteResponse> {
    op.delete(&req.cache_key);
    Ok(DeleteResponse {})
}

pub fn keys_exist(op: &Op, req: KeysExistRequest) -> R<KeysExistResponse> {
    Ok(KeysExistResponse {
        exists: op.keys_exist(req.cache_keys.iter().map(|k| &k[..])),
    })
}

pub fn increment(op: &Op, req: IncrementRequest) -> R<IncrementResponse> {
    let value = op
        .increment(&req.cache_key, req.amount, req.ttl_milliseconds)
        .map_err(status)?;
    Ok(IncrementResponse { value })
}

pub fn update_ttl(op: &Op, req: UpdateTtlRequest) -> R<UpdateTtlResponse> {
    use update_ttl_request::UpdateTtl as U;
    use update_ttl_response::{Missing, NotSet, Result as Res, Set};
    let update = match req.update_ttl {
        None => {
            return Err(errors::invalid(
                "UpdateTtl needs increase_to, decrease_to or overwrite_to",
            ))
        }
        Some(U::IncreaseToMilliseconds(t)) => TtlUpdate::IncreaseTo(t),
        Some(U::DecreaseToMilliseconds(t)) => TtlUpdate::DecreaseTo(t),
        Some(U::OverwriteToMilliseconds(t)) => TtlUpdate::OverwriteTo(t),
    };
    let result = match op.update_ttl(&req.cache_key, update).map_err(status)? {
        TtlUpdated::Missing => Res::Missing(Missing {}),
        TtlUpdated::NotSet => Res::NotSet(NotSet {}),
        TtlUpdated::Set => Res::Set(Set {}),
    };
    Ok(UpdateTtlResponse {
        result: Some(result),
    })
}

/// Remaining TTL; an item without expiry (set over RESP without one) reports `u64::MAX`.
pub fn item_get_ttl(op: &Op, req: ItemGetTtlRequest) -> R<ItemGetTtlResponse> {
    use item_get_ttl_response::{Found, Missing, Result as Res};
    Ok(ItemGetTtlResponse {
        result: Some(match op.remaining_ttl(&req.cache_key) {
            None => Res::Missing(Missing {}),
            Some(ms) => Res::Found(Found {
                remaining_ttl_millis: ms,
            }),
        }),
    })
}

pub fn item_get_type(op: &Op, req: ItemGetTypeRequest) -> R<ItemGetTypeResponse> {
    use item_get_type_response::{Found, ItemType, Missing, Result as Res};
    Ok(ItemGetTypeResponse {
        result: Some(match op.item_type(&req.cache_key) {
            // Momento has no stream type and no item type to name one: a stream (written over
            // RESP) is reported as missing to gRPC, whose operations cannot read it.
            None | Some(ValueKind::Stream) => Res::Missing(Missing {}),
            Some(k) => Res::Found(Found {
                item_type: match k {
                    ValueKind::String => ItemType::Scalar,
                    ValueKind::Hash => ItemType::Dictionary,
                    ValueKind::List => ItemType::List,
                    ValueKind::Set => ItemType::Set,
                    ValueKind::ZSet => ItemType::SortedSet,
                    ValueKind::Stream => unreachable!("answered as missing above"),
                } as i32,
            }),
        }),
    })
}
