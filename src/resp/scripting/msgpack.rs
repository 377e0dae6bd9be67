//! Redis's bundled `cmsgpack` (lua-cmsgpack): `pack(...)`, `unpack(s)`, `unpack_one(s [, offset])`,
//! `unpack_limit(s, limit [, offset])`, with lua-cmsgpack's type choices: integral numbers as
//! the smallest integer, other numbers as float32 when exact else float64, a table whose keys
//! are exactly 1..n as an array (an empty table too), any other table as a map.

use mlua::{Lua, MultiValue, Table, Value};

/// Deepest nesting packed or unpacked (lua-cmsgpack's `LUACMSGPACK_MAX_NESTING` is 16 for
/// packing; unpacking is bounded here the same way against hostile input).
const MAX_NESTING: usize = 16;

pub fn library(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set(
        "pack",
        lua.create_function(|lua, args: MultiValue| {
            if args.is_empty() {
                return Err(mlua::Error::runtime("MessagePack pack needs input."));
            }
            let mut out = Vec::new();
            for v in args.iter() {
                pack(v, &mut out, 0);
            }
            lua.create_string(&out)
        })?,
    )?;
    t.raw_set(
        "unpack",
        lua.create_function(|lua, s: mlua::String| {
            let b = s.as_bytes();
            let mut pos = 0;
            let mut out = Vec::new();
            while pos < b.len() {
                out.push(unpack(lua, &b, &mut pos, 0)?);
            }
            Ok(MultiValue::from_iter(out))
        })?,
    )?;
    t.raw_set(
        "unpack_one",
        lua.create_function(|lua, (s, offset): (mlua::String, Option<i64>)| {
            unpack_limited(lua, &s.as_bytes(), 1, offset.unwrap_or(0))
        })?,
    )?;
    t.raw_set(
        "unpack_limit",
        lua.create_function(
            |lua, (s, limit, offset): (mlua::String, i64, Option<i64>)| {
                unpack_limited(lua, &s.as_bytes(), limit, offset.unwrap_or(0))
            },
        )?,
    )?;
    Ok(t)
}

/// lua-cmsgpack's `unpack_limit`: the offset after what was read (-1 at the end), then up to
/// `limit` values (0: all).
fn unpack_limited(lua: &Lua, b: &[u8], limit: i64, offset: i64) -> mlua::Result<MultiValue> {
    if offset < 0 || offset as usize > b.len() {
        return Err(mlua::Error::runtime(
            "Start offset greater than input length.",
        ));
    }
    let mut pos = offset as usize;
    let mut values = Vec::new();
    while pos < b.len() && (limit <= 0 || (values.len() as i64) < limit) {
        values.push(unpack(lua, b, &mut pos, 0)?);
    }
    let next = if pos >= b.len() { -1 } else { pos as i64 };
    let mut out = vec![Value::Integer(next)];
    out.extend(values);
    Ok(MultiValue::from_iter(out))
}

fn pack(v: &Value, out: &mut Vec<u8>, depth: usize) {
    match v {
        Value::Nil => out.push(0xc0),
        Value::Boolean(b) => out.push(if *b { 0xc3 } else { 0xc2 }),
        Value::Integer(n) => pack_int(*n, out),
        Value::Number(n) => {
            let n = *n;
            if n.fract() == 0.0 && n.is_finite() && n.abs() < 9.2e18 {
                pack_int(n as i64, out)
            } else if (n as f32) as f64 == n || n.is_nan() {
                out.push(0xca);
                out.extend_from_slice(&(n as f32).to_be_bytes());
            } else {
                out.push(0xcb);
                out.extend_from_slice(&n.to_be_bytes());
            }
        }
        Value::String(s) => {
            let b = s.as_bytes();
            let n = b.len();
            if n < 32 {
                out.push(0xa0 | n as u8);
            } else if n <= 0xff {
                out.extend_from_slice(&[0xd9, n as u8]);
            } else if n <= 0xffff {
                out.push(0xda);
                out.extend_from_slice(&(n as u16).to_be_bytes());
            } else {
                out.push(0xdb);
                out.extend_from_slice(&(n as u32).to_be_bytes());
            }
            out.extend_from_slice(&b);
        }
        Value::Table(t) if depth < MAX_NESTING => pack_table(t, out, depth),
        // Too deep, or a function / userdata / thread: nil, as lua-cmsgpack packs them.
        _ => out.push(0xc0),
    }
}

fn pack_int(n: i64, out: &mut Vec<u8>) {
    if n >= 0 {
        let u = n as u64;
        if u < 128 {
            out.push(u as u8);
        } else if u <= 0xff {
            out.extend_from_slice(&[0xcc, u as u8]);
        } else if u <= 0xffff {
            out.push(0xcd);
            out.extend_from_slice(&(u as u16).to_be_bytes());
        } else if u <= 0xffff_ffff {
            out.push(0xce);
            out.extend_from_slice(&(u as u32).to_be_bytes());
        } else {
            out.push(0xcf);
            out.extend_from_slice(&u.to_be_bytes());
        }
    } else if n >= -32 {
        out.push(n as i8 as u8);
    } else if n >= i8::MIN as i64 {
        out.extend_from_slice(&[0xd0, n as i8 as u8]);
    } else if n >= i16::MIN as i64 {
        out.push(0xd1);
        out.extend_from_slice(&(n as i16).to_be_bytes());
    } else if n >= i32::MIN as i64 {
        out.push(0xd2);
        out.extend_from_slice(&(n as i32).to_be_bytes());
    } else {
        out.push(0xd3);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

fn pack_len(n: usize, fix: u8, b16: u8, out: &mut Vec<u8>) {
    if n < 16 {
        out.push(fix | n as u8);
    } else if n <= 0xffff {
        out.push(b16);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        out.push(b16 + 1);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    }
}

fn pack_table(t: &Table, out: &mut Vec<u8>, depth: usize) {
    // Two passes over `pairs` rather than one collected list: every string or table a Vec holds
    // takes a slot of mlua's reference stack, which Lua 5.1 caps near 8000 ("C stack
    // overflow" for a map of 100,000 keys); here each pair is dropped before the next.
    let mut max = 0usize;
    let mut count = 0usize;
    let mut array = true;
    for (k, _) in t.pairs::<Value, Value>().filter_map(Result::ok) {
        count += 1;
        match k {
            Value::Integer(n) if n >= 1 => max = max.max(n as usize),
            Value::Number(n) if n >= 1.0 && n.fract() == 0.0 => max = max.max(n as usize),
            _ => array = false,
        }
    }
    if array && max == count {
        pack_len(max, 0x90, 0xdc, out);
        for i in 1..=max {
            let v: Value = t.raw_get(i).unwrap_or(Value::Nil);
            pack(&v, out, depth + 1);
        }
    } else {
        pack_len(count, 0x80, 0xde, out);
        for (k, v) in t.pairs::<Value, Value>().filter_map(Result::ok).take(count) {
            pack(&k, out, depth + 1);
            pack(&v, out, depth + 1);
        }
    }
}

fn take<'b>(b: &'b [u8], pos: &mut usize, n: usize) -> mlua::Result<&'b [u8]> {
    let end = pos
        .checked_add(n)
        .filter(|&e| e <= b.len())
        .ok_or_else(|| mlua::Error::runtime("Missing bytes in input."))?;
    let s = &b[*pos..end];
    *pos = end;
    Ok(s)
}

fn be(b: &[u8]) -> u64 {
    b.iter().fold(0u64, |acc, &x| (acc << 8) | x as u64)
}

fn unpack(lua: &Lua, b: &[u8], pos: &mut usize, depth: usize) -> mlua::Result<Value> {
    if depth > MAX_NESTING * 4 {
        return Err(mlua::Error::runtime("Bad data format in input."));
    }
    let tag = take(b, pos, 1)?[0];
    let str_of = |lua: &Lua, pos: &mut usize, n: usize| -> mlua::Result<Value> {
        Ok(Value::String(lua.create_string(take(b, pos, n)?)?))
    };
    Ok(match tag {
        0x00..=0x7f => Value::Integer(tag as i64),
        0xe0..=0xff => Value::Integer(tag as i8 as i64),
        0xa0..=0xbf => str_of(lua, pos, (tag & 0x1f) as usize)?,
        0x90..=0x9f => array(lua, b, pos, (tag & 0x0f) as usize, depth)?,
        0x80..=0x8f => map(lua, b, pos, (tag & 0x0f) as usize, depth)?,
        0xc0 => Value::Nil,
        0xc2 => Value::Boolean(false),
        0xc3 => Value::Boolean(true),
        0xcc => Value::Integer(be(take(b, pos, 1)?) as i64),
        0xcd => Value::Integer(be(take(b, pos, 2)?) as i64),
        0xce => Value::Integer(be(take(b, pos, 4)?) as i64),
        0xcf => Value::Number(be(take(b, pos, 8)?) as f64),
        0xd0 => Value::Integer(take(b, pos, 1)?[0] as i8 as i64),
        0xd1 => Value::Integer(be(take(b, pos, 2)?) as u16 as i16 as i64),
        0xd2 => Value::Integer(be(take(b, pos, 4)?) as u32 as i32 as i64),
        0xd3 => Value::Integer(be(take(b, pos, 8)?) as i64),
        0xca => Value::Number(f32::from_bits(be(take(b, pos, 4)?) as u32) as f64),
        0xcb => Value::Number(f64::from_bits(be(take(b, pos, 8)?))),
        0xd9 | 0xc4 => {
            let n = be(take(b, pos, 1)?) as usize;
            str_of(lua, pos, n)?
        }
        0xda | 0xc5 => {
            let n = be(take(b, pos, 2)?) as usize;
            str_of(lua, pos, n)?
        }
        0xdb | 0xc6 => {
            let n = be(take(b, pos, 4)?) as usize;
            str_of(lua, pos, n)?
        }
        0xdc => {
            let n = be(take(b, pos, 2)?) as usize;
            array(lua, b, pos, n, depth)?
        }
        0xdd => {
            let n = be(take(b, pos, 4)?) as usize;
            array(lua, b, pos, n, depth)?
        }
        0xde => {
            let n = be(take(b, pos, 2)?) as usize;
            map(lua, b, pos, n, depth)?
        }
        0xdf => {
            let n = be(take(b, pos, 4)?) as usize;
            map(lua, b, pos, n, depth)?
        }
        _ => return Err(mlua::Error::runtime("Bad data format in input.")),
    })
}

/// An array of `n` elements: each takes at least a byte, so a claimed length past the input
/// is refused before anything is allocated for it.
fn array(lua: &Lua, b: &[u8], pos: &mut usize, n: usize, depth: usize) -> mlua::Result<Value> {
    if n > b.len() - *pos {
        return Err(mlua::Error::runtime("Missing bytes in input."));
    }
    let t = lua.create_table_with_capacity(n, 0)?;
    for i in 1..=n {
        t.raw_set(i, unpack(lua, b, pos, depth + 1)?)?;
    }
    Ok(Value::Table(t))
}

fn map(lua: &Lua, b: &[u8], pos: &mut usize, n: usize, depth: usize) -> mlua::Result<Value> {
    if n.saturating_mul(2) > b.len() - *pos {
        return Err(mlua::Error::runtime("Missing bytes in input."));
    }
    let t = lua.create_table_with_capacity(0, n)?;
    for _ in 0..n {
        let k = unpack(lua, b, pos, depth + 1)?;
        let v = unpack(lua, b, pos, depth + 1)?;
        if !k.is_nil() {
            t.raw_set(k, v)?;
        }
    }
    Ok(Value::Table(t))
}

#[cfg(test)]
mod tests {
    use crate::resp::scripting::vm::ScriptVm;
    use mlua::{Function, MultiValue, Table};

    /// The fuzz target's calls (fuzz/fuzz_targets/script_libs.rs) on its seeds and on every
    /// prefix of them: errors are fine, panics are not, and the VM keeps working.
    #[test]
    fn library_parsers_survive_their_fuzz_seeds() {
        let vm = ScriptVm::new(16 << 20).unwrap();
        let call = |lib: &str, name: &str, args: MultiValue| {
            let t: Table = vm.lua.globals().get(lib).unwrap();
            let f: Function = t.get(name).unwrap();
            let _ = f.call::<MultiValue>(args);
        };
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz/seeds/script_libs");
        let mut inputs: Vec<Vec<u8>> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| std::fs::read(e.unwrap().path()).unwrap())
            .collect();
        inputs.push(vec![0xdd, 0xff, 0xff, 0xff, 0xff]); // an array claiming 4 G elements
        inputs.push(vec![0x91; 200]); // nesting deeper than the limit
        inputs.push(b"\x03c99999999999999999999".to_vec()); // a huge struct size
        for input in &inputs {
            for end in 0..=input.len() {
                let data = &input[..end];
                let s = vm.lua.create_string(data).unwrap();
                let args = |v: Vec<mlua::Value>| MultiValue::from_iter(v);
                call(
                    "cmsgpack",
                    "unpack",
                    args(vec![mlua::Value::String(s.clone())]),
                );
                call(
                    "cjson",
                    "decode",
                    args(vec![mlua::Value::String(s.clone())]),
                );
                if !data.is_empty() {
                    let n = (data[0] as usize % 24).min(data.len() - 1);
                    let fmt = vm.lua.create_string(&data[1..1 + n]).unwrap();
                    let rest = vm.lua.create_string(&data[1 + n..]).unwrap();
                    call(
                        "struct",
                        "unpack",
                        args(vec![
                            mlua::Value::String(fmt.clone()),
                            mlua::Value::String(rest),
                        ]),
                    );
                    call("struct", "size", args(vec![mlua::Value::String(fmt)]));
                }
            }
        }
        let r: i64 = vm.lua.load("return 1 + 1").eval().unwrap();
        assert_eq!(r, 2);
    }
}
