//! Redis's bundled `struct` library (Roberto Ierusalimschy's lua-struct): `pack(fmt, ...)`,
//! `unpack(fmt, s [, pos])` (the values, then the position after them) and `size(fmt)`.
//!
//! Format: `<` little-endian, `>` big-endian, `=` native, `![n]` alignment (default 1: none);
//! `x` a pad byte; `b`/`B` char, `h`/`H` short, `l`/`L` long (8 bytes), `T` size_t (8),
//! `i[n]`/`I[n]` an n-byte integer (default 4); `f` float, `d` double; `s` a zero-terminated
//! string; `c[n]` n characters (`c0`: packing takes the whole string, unpacking the length
//! the previous value gave); spaces are ignored. Upper case is unsigned.

use mlua::{Lua, MultiValue, Value};

#[derive(Clone, Copy)]
struct State {
    little: bool,
    align: usize,
}

/// One directive: its letter and its size argument, if any.
fn directives(fmt: &[u8]) -> mlua::Result<Vec<(u8, Option<usize>)>> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < fmt.len() {
        let c = fmt[i];
        i += 1;
        let start = i;
        while i < fmt.len() && fmt[i].is_ascii_digit() {
            i += 1;
        }
        let n = if i > start {
            let v: usize = std::str::from_utf8(&fmt[start..i])
                .unwrap_or("0")
                .parse()
                .map_err(|_| mlua::Error::runtime("size too large"))?;
            Some(v)
        } else {
            None
        };
        out.push((c, n));
    }
    Ok(out)
}

fn int_size(c: u8, n: Option<usize>) -> mlua::Result<usize> {
    let size = match c {
        b'b' | b'B' => 1,
        b'h' | b'H' => 2,
        b'l' | b'L' | b'T' => 8,
        b'i' | b'I' => n.unwrap_or(4),
        _ => 0,
    };
    if !(1..=8).contains(&size) {
        return Err(mlua::Error::runtime(format!(
            "integral size {size} is larger than limit of 8"
        )));
    }
    Ok(size)
}

fn pad(pos: usize, size: usize, st: State) -> usize {
    let a = size.min(st.align);
    if a <= 1 || !a.is_power_of_two() {
        return 0;
    }
    (a - (pos & (a - 1))) & (a - 1)
}

fn control(c: u8, n: Option<usize>, st: &mut State) -> mlua::Result<bool> {
    match c {
        b' ' => {}
        b'<' => st.little = true,
        b'>' => st.little = false,
        b'=' => st.little = cfg!(target_endian = "little"),
        b'!' => st.align = n.unwrap_or(8),
        _ => return Ok(false),
    }
    Ok(true)
}

fn invalid(c: u8) -> mlua::Error {
    mlua::Error::runtime(format!(
        "bad argument #1 to 'pack' (invalid format option '{}')",
        c as char
    ))
}

fn pack(lua: &Lua, (fmt, args): (mlua::String, MultiValue)) -> mlua::Result<mlua::String> {
    let mut st = State {
        little: cfg!(target_endian = "little"),
        align: 1,
    };
    let mut out: Vec<u8> = Vec::new();
    let mut args = args.into_iter();
    let mut arg = |what: &str| -> mlua::Result<Value> {
        args.next().ok_or_else(|| {
            mlua::Error::runtime(format!(
                "bad argument to 'pack' ({what} expected, got no value)"
            ))
        })
    };
    for (c, n) in directives(&fmt.as_bytes())? {
        if control(c, n, &mut st)? {
            continue;
        }
        match c {
            b'x' => out.push(0),
            b'b' | b'B' | b'h' | b'H' | b'l' | b'L' | b'T' | b'i' | b'I' => {
                let size = int_size(c, n)?;
                out.extend(std::iter::repeat_n(0, pad(out.len(), size, st)));
                let v = number(&arg("number")?)? as i64;
                let bytes = v.to_le_bytes();
                if st.little {
                    out.extend_from_slice(&bytes[..size]);
                } else {
                    out.extend(bytes[..size].iter().rev());
                }
            }
            b'f' | b'd' => {
                let v = number(&arg("number")?)?;
                let size = if c == b'f' { 4 } else { 8 };
                out.extend(std::iter::repeat_n(0, pad(out.len(), size, st)));
                let bytes: Vec<u8> = if c == b'f' {
                    if st.little {
                        (v as f32).to_le_bytes().to_vec()
                    } else {
                        (v as f32).to_be_bytes().to_vec()
                    }
                } else if st.little {
                    v.to_le_bytes().to_vec()
                } else {
                    v.to_be_bytes().to_vec()
                };
                out.extend_from_slice(&bytes);
            }
            b's' => {
                let s = string(&arg("string")?)?;
                if s.contains(&0) {
                    return Err(mlua::Error::runtime("string contains zeros"));
                }
                out.extend_from_slice(&s);
                out.push(0);
            }
            b'c' => {
                let s = string(&arg("string")?)?;
                let len = match n {
                    None | Some(0) => s.len(),
                    Some(l) => l,
                };
                if s.len() < len {
                    return Err(mlua::Error::runtime("string too short"));
                }
                out.extend_from_slice(&s[..len]);
            }
            other => return Err(invalid(other)),
        }
    }
    lua.create_string(&out)
}

fn number(v: &Value) -> mlua::Result<f64> {
    match v {
        Value::Integer(n) => Ok(*n as f64),
        Value::Number(n) => Ok(*n),
        Value::String(s) => s
            .to_str()
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .ok_or_else(|| mlua::Error::runtime("bad argument to 'pack' (number expected)")),
        _ => Err(mlua::Error::runtime(
            "bad argument to 'pack' (number expected)",
        )),
    }
}

fn string(v: &Value) -> mlua::Result<Vec<u8>> {
    match v {
        Value::String(s) => Ok(s.as_bytes().to_vec()),
        Value::Integer(n) => Ok(n.to_string().into_bytes()),
        Value::Number(n) => Ok(super::convert::format_g14(*n).into_bytes()),
        _ => Err(mlua::Error::runtime(
            "bad argument to 'pack' (string expected)",
        )),
    }
}

fn unpack(
    lua: &Lua,
    (fmt, data, init): (mlua::String, mlua::String, Option<i64>),
) -> mlua::Result<MultiValue> {
    let data = data.as_bytes();
    let mut st = State {
        little: cfg!(target_endian = "little"),
        align: 1,
    };
    let mut pos = init.unwrap_or(1).max(1) as usize - 1;
    if pos > data.len() {
        return Err(mlua::Error::runtime("offset must be 1 or greater"));
    }
    let short = || mlua::Error::runtime("data string too short");
    let mut out: Vec<Value> = Vec::new();
    for (c, n) in directives(&fmt.as_bytes())? {
        if control(c, n, &mut st)? {
            continue;
        }
        match c {
            b'x' => pos += 1,
            b'b' | b'B' | b'h' | b'H' | b'l' | b'L' | b'T' | b'i' | b'I' => {
                let size = int_size(c, n)?;
                pos += pad(pos, size, st);
                let b = data.get(pos..pos + size).ok_or_else(short)?;
                let mut v: u64 = 0;
                for i in 0..size {
                    let byte = if st.little { b[size - 1 - i] } else { b[i] };
                    v = (v << 8) | byte as u64;
                }
                let signed = c.is_ascii_lowercase();
                let value = if signed && size < 8 && v & (1 << (size * 8 - 1)) != 0 {
                    (v as i64) - (1i64 << (size * 8))
                } else {
                    v as i64
                };
                out.push(Value::Number(if signed { value as f64 } else { v as f64 }));
                pos += size;
            }
            b'f' | b'd' => {
                let size = if c == b'f' { 4 } else { 8 };
                pos += pad(pos, size, st);
                let b = data.get(pos..pos + size).ok_or_else(short)?;
                let v = if c == b'f' {
                    let a: [u8; 4] = b.try_into().expect("4 bytes");
                    (if st.little {
                        f32::from_le_bytes(a)
                    } else {
                        f32::from_be_bytes(a)
                    }) as f64
                } else {
                    let a: [u8; 8] = b.try_into().expect("8 bytes");
                    if st.little {
                        f64::from_le_bytes(a)
                    } else {
                        f64::from_be_bytes(a)
                    }
                };
                out.push(Value::Number(v));
                pos += size;
            }
            b's' => {
                let rest = data.get(pos..).ok_or_else(short)?;
                let end = rest
                    .iter()
                    .position(|&b| b == 0)
                    .ok_or_else(|| mlua::Error::runtime("unfinished string in data"))?;
                out.push(Value::String(lua.create_string(&rest[..end])?));
                pos += end + 1;
            }
            b'c' => {
                let len = match n {
                    Some(l) if l > 0 => l,
                    _ => match out.last() {
                        Some(Value::Number(l)) if *l >= 0.0 => *l as usize,
                        Some(Value::Integer(l)) if *l >= 0 => *l as usize,
                        _ => return Err(mlua::Error::runtime("format 'c0' needs a previous size")),
                    },
                };
                let end = pos.checked_add(len).ok_or_else(short)?;
                let b = data.get(pos..end).ok_or_else(short)?;
                out.push(Value::String(lua.create_string(b)?));
                pos = end;
            }
            other => return Err(invalid(other)),
        }
    }
    out.push(Value::Number((pos + 1) as f64));
    Ok(MultiValue::from_iter(out))
}

fn size(_: &Lua, fmt: mlua::String) -> mlua::Result<i64> {
    let mut st = State {
        little: true,
        align: 1,
    };
    let mut pos = 0usize;
    for (c, n) in directives(&fmt.as_bytes())? {
        if control(c, n, &mut st)? {
            continue;
        }
        match c {
            b'x' => pos += 1,
            b'b' | b'B' | b'h' | b'H' | b'l' | b'L' | b'T' | b'i' | b'I' => {
                let s = int_size(c, n)?;
                pos += pad(pos, s, st) + s;
            }
            b'f' => pos += pad(pos, 4, st) + 4,
            b'd' => pos += pad(pos, 8, st) + 8,
            b'c' if n.unwrap_or(0) > 0 => pos += n.unwrap_or(0),
            b's' | b'c' => {
                return Err(mlua::Error::runtime(
                    "options 'c0' - 's' have undefined sizes",
                ))
            }
            other => return Err(invalid(other)),
        }
    }
    Ok(pos as i64)
}

pub fn library(lua: &Lua) -> mlua::Result<mlua::Table> {
    let t = lua.create_table()?;
    t.raw_set("pack", lua.create_function(pack)?)?;
    t.raw_set("unpack", lua.create_function(unpack)?)?;
    t.raw_set("size", lua.create_function(size)?)?;
    Ok(t)
}
