//! Redis's conversion rules between RESP replies and Lua values, and the `cjson` library.
//!
//! RESP → Lua (what `redis.call` returns; the reply was written by the command's own handler
//! in the script's protocol, `redis.setresp`): integer → number, bulk → string, null bulk and
//! null array → false, array → table, status → `{ok=...}`, error → `{err=...}`; in RESP3 also
//! null → nil, map → `{map={...}}`, set → `{set={[member]=true}}`, boolean → boolean,
//! double → `{double=n}`, big number → `{big_number=s}`, verbatim → `{verbatim_string=
//! {format=..., string=...}}`.
//!
//! Lua → RESP (what the script returns): string → bulk, number → integer (truncated),
//! boolean → 1 / null in RESP2 or a RESP3 boolean when the script set RESP3, nil → null,
//! table → by its fields: `err` → error, `ok` → status, `double`, `big_number`, `map`, `set`,
//! `verbatim_string`, else an array of its elements up to the first nil.

use bytes::BytesMut;
use ferrite_resp::ReplyWriter;
use mlua::{Lua, Table, Value};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize};
use std::sync::Arc;

/// Deepest nesting converted either way (a reply never nests this deep; a self-referencing
/// table would recurse forever). Also cjson's limit here (lua-cjson's default is 1000, which
/// the 2 MiB stack of a blocking thread does not hold in a debug build).
const MAX_DEPTH: usize = 128;

/// Parse one RESP reply from `buf` at `*pos` into a Lua value.
pub fn reply_to_lua(lua: &Lua, buf: &[u8], pos: &mut usize) -> mlua::Result<Value> {
    reply_to_lua_at(lua, buf, pos, 0)
}

fn line<'b>(buf: &'b [u8], pos: &mut usize) -> mlua::Result<&'b [u8]> {
    let start = *pos;
    let rel = buf[start..]
        .windows(2)
        .position(|w| w == b"\r\n")
        .ok_or_else(|| mlua::Error::runtime("truncated reply"))?;
    *pos = start + rel + 2;
    Ok(&buf[start..start + rel])
}

fn int_of(b: &[u8]) -> mlua::Result<i64> {
    std::str::from_utf8(b)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| mlua::Error::runtime("malformed reply length"))
}

fn bulk<'b>(buf: &'b [u8], pos: &mut usize, len: i64) -> mlua::Result<&'b [u8]> {
    let len = len as usize;
    let start = *pos;
    if start + len + 2 > buf.len() {
        return Err(mlua::Error::runtime("truncated reply"));
    }
    *pos = start + len + 2;
    Ok(&buf[start..start + len])
}

fn single(lua: &Lua, key: &str, v: Value) -> mlua::Result<Value> {
    let t = lua.create_table()?;
    t.raw_set(key, v)?;
    Ok(Value::Table(t))
}

fn reply_to_lua_at(lua: &Lua, buf: &[u8], pos: &mut usize, depth: usize) -> mlua::Result<Value> {
    if depth > MAX_DEPTH {
        return Err(mlua::Error::runtime("reply nested too deep"));
    }
    let Some(&kind) = buf.get(*pos) else {
        return Err(mlua::Error::runtime("truncated reply"));
    };
    *pos += 1;
    let head = line(buf, pos)?;
    Ok(match kind {
        b':' => Value::Number(int_of(head)? as f64),
        b'$' => {
            let n = int_of(head)?;
            if n < 0 {
                Value::Boolean(false)
            } else {
                Value::String(lua.create_string(bulk(buf, pos, n)?)?)
            }
        }
        b'+' => single(lua, "ok", Value::String(lua.create_string(head)?))?,
        b'-' => single(lua, "err", Value::String(lua.create_string(head)?))?,
        b'*' | b'~' => {
            let n = int_of(head)?;
            if n < 0 {
                return Ok(Value::Boolean(false));
            }
            let t = lua.create_table_with_capacity(if kind == b'*' { n as usize } else { 0 }, 0)?;
            for i in 0..n {
                let v = reply_to_lua_at(lua, buf, pos, depth + 1)?;
                if kind == b'*' {
                    t.raw_set(i + 1, v)?;
                } else {
                    t.raw_set(v, true)?;
                }
            }
            if kind == b'~' {
                single(lua, "set", Value::Table(t))?
            } else {
                Value::Table(t)
            }
        }
        b'%' => {
            let n = int_of(head)?;
            let t = lua.create_table()?;
            for _ in 0..n {
                let k = reply_to_lua_at(lua, buf, pos, depth + 1)?;
                let v = reply_to_lua_at(lua, buf, pos, depth + 1)?;
                t.raw_set(k, v)?;
            }
            single(lua, "map", Value::Table(t))?
        }
        b'_' => Value::Nil,
        b'#' => Value::Boolean(head == b"t"),
        b',' => {
            let s = std::str::from_utf8(head).unwrap_or("nan");
            let d = match s {
                "inf" => f64::INFINITY,
                "-inf" => f64::NEG_INFINITY,
                other => other.parse().unwrap_or(f64::NAN),
            };
            single(lua, "double", Value::Number(d))?
        }
        b'(' => single(lua, "big_number", Value::String(lua.create_string(head)?))?,
        b'=' => {
            let n = int_of(head)?;
            let body = bulk(buf, pos, n)?;
            let (format, text) = if body.len() >= 4 && body[3] == b':' {
                (&body[..3], &body[4..])
            } else {
                (&b"txt"[..], body)
            };
            let t = lua.create_table()?;
            t.raw_set("format", lua.create_string(format)?)?;
            t.raw_set("string", lua.create_string(text)?)?;
            single(lua, "verbatim_string", Value::Table(t))?
        }
        b'|' => {
            // An attribute: skipped, the reply follows it.
            let n = int_of(head)?;
            for _ in 0..n * 2 {
                reply_to_lua_at(lua, buf, pos, depth + 1)?;
            }
            reply_to_lua_at(lua, buf, pos, depth)?
        }
        _ => return Err(mlua::Error::runtime("unknown reply type")),
    })
}

/// Write the script's result `v` as a RESP reply. `script_resp3`: the script chose RESP3
/// (`redis.setresp(3)`), which decides how booleans convert.
pub fn lua_to_reply(v: &Value, script_resp3: bool, w: &mut ReplyWriter<'_>) {
    lua_to_reply_at(v, script_resp3, w, 0)
}

fn lua_to_reply_at(v: &Value, script_resp3: bool, w: &mut ReplyWriter<'_>, depth: usize) {
    if depth > MAX_DEPTH {
        w.error("ERR reached lua stack limit");
        return;
    }
    match v {
        Value::String(s) => w.bulk(&s.as_bytes()),
        Value::Integer(n) => w.int(*n),
        Value::Number(n) => w.int(lua_number_to_int(*n)),
        Value::Boolean(b) => {
            if script_resp3 {
                w.boolean(*b)
            } else if *b {
                w.int(1)
            } else {
                w.null()
            }
        }
        Value::Table(t) => table_to_reply(t, script_resp3, w, depth),
        _ => w.null(),
    }
}

/// Lua 5.1's number → integer cast as Redis does it (`(long long)` of the double).
fn lua_number_to_int(n: f64) -> i64 {
    if n.is_nan() {
        i64::MIN
    } else {
        n as i64
    }
}

fn field(t: &Table, k: &str) -> Value {
    t.raw_get(k).unwrap_or(Value::Nil)
}

fn table_to_reply(t: &Table, script_resp3: bool, w: &mut ReplyWriter<'_>, depth: usize) {
    if let Value::String(e) = field(t, "err") {
        let msg = String::from_utf8_lossy(&e.as_bytes()).into_owned();
        w.error(&error_line(&msg));
        return;
    }
    if let Value::String(s) = field(t, "ok") {
        let msg = String::from_utf8_lossy(&s.as_bytes()).into_owned();
        w.simple(&single_line(&msg));
        return;
    }
    if let Value::Number(d) = field(t, "double") {
        w.double(d);
        return;
    }
    if let Value::Integer(d) = field(t, "double") {
        w.double(d as f64);
        return;
    }
    if let Value::String(s) = field(t, "big_number") {
        let text = String::from_utf8_lossy(&s.as_bytes()).into_owned();
        if w.resp3() {
            w.raw(format!("({}\r\n", single_line(&text)).as_bytes());
        } else {
            // Redis blanks the line breaks in RESP2's bulk too.
            w.bulk(single_line(&text).as_bytes());
        }
        return;
    }
    if let Value::Table(m) = field(t, "map") {
        // Counted, then streamed: a collected list of a big map's strings would overflow
        // mlua's reference stack (Lua 5.1 caps it near 8000 slots).
        let count = m.pairs::<Value, Value>().filter_map(Result::ok).count();
        w.map(count);
        for (k, v) in m.pairs::<Value, Value>().filter_map(Result::ok).take(count) {
            lua_to_reply_at(&k, script_resp3, w, depth + 1);
            lua_to_reply_at(&v, script_resp3, w, depth + 1);
        }
        return;
    }
    if let Value::Table(s) = field(t, "set") {
        let count = s.pairs::<Value, Value>().filter_map(Result::ok).count();
        w.set(count);
        for (m, _) in s.pairs::<Value, Value>().filter_map(Result::ok).take(count) {
            lua_to_reply_at(&m, script_resp3, w, depth + 1);
        }
        return;
    }
    if let Value::Table(v) = field(t, "verbatim_string") {
        let format = match field(&v, "format") {
            Value::String(s) => s.to_string_lossy(),
            _ => "txt".into(),
        };
        let text = match field(&v, "string") {
            Value::String(s) => s.to_string_lossy(),
            _ => String::new(),
        };
        w.verbatim(&format, &text);
        return;
    }
    let mut items = Vec::new();
    for i in 1.. {
        match t.raw_get::<Value>(i) {
            Ok(Value::Nil) | Err(_) => break,
            Ok(v) => items.push(v),
        }
    }
    w.array(items.len());
    for v in &items {
        lua_to_reply_at(v, script_resp3, w, depth + 1);
    }
}

/// An error reply's text on one line (Redis replaces newlines in error replies with spaces).
pub fn error_line(msg: &str) -> String {
    single_line(msg)
}

fn single_line(s: &str) -> String {
    s.replace(['\r', '\n'], " ")
}

/// Run `f` and return what it wrote.
pub fn written(resp3: bool, f: impl FnOnce(&mut ReplyWriter<'_>)) -> BytesMut {
    let mut out = BytesMut::new();
    f(&mut ReplyWriter::new(&mut out, resp3));
    out
}

// ---- cjson -----------------------------------------------------------------------------

/// lua-cjson's settings (`cjson.encode_max_depth(n)` & co.): they last as long as the VM, as in
/// Redis, where a script that changes one changes it for the scripts after it.
struct JsonConfig {
    encode_max_depth: AtomicUsize,
    decode_max_depth: AtomicUsize,
    /// 0: refuse NaN and Inf (the default), 1: write them as `nan` / `inf`, 2: as `null`.
    encode_invalid_numbers: AtomicU8,
    decode_invalid_numbers: AtomicBool,
    encode_keep_buffer: AtomicBool,
    encode_number_precision: AtomicU8,
    /// `encode_sparse_array(convert, ratio, safe)`.
    sparse_convert: AtomicBool,
    sparse_ratio: AtomicUsize,
    sparse_safe: AtomicUsize,
}

impl Default for JsonConfig {
    fn default() -> Self {
        JsonConfig {
            encode_max_depth: AtomicUsize::new(1000),
            decode_max_depth: AtomicUsize::new(1000),
            encode_invalid_numbers: AtomicU8::new(0),
            decode_invalid_numbers: AtomicBool::new(true),
            encode_keep_buffer: AtomicBool::new(true),
            encode_number_precision: AtomicU8::new(14),
            sparse_convert: AtomicBool::new(false),
            sparse_ratio: AtomicUsize::new(2),
            sparse_safe: AtomicUsize::new(10),
        }
    }
}

/// lua-cjson's integer option: `None` leaves it; out of `min..=max` is its argument error.
fn json_int_arg(
    v: &Value,
    arg: usize,
    name: &str,
    min: i64,
    max: i64,
) -> mlua::Result<Option<i64>> {
    let number = match v {
        Value::Nil => return Ok(None),
        Value::Integer(n) => Some(*n as f64),
        Value::Number(n) => Some(*n),
        Value::String(s) => s.to_str().ok().and_then(|s| s.trim().parse::<f64>().ok()),
        _ => None,
    };
    let Some(number) = number else {
        return Err(mlua::Error::runtime(format!(
            "bad argument #{arg} to '{name}' (number expected, got {})",
            v.type_name()
        )));
    };
    // luaL_checkinteger truncates.
    let n = Some(number.trunc() as i64);
    match n {
        Some(n) if (min..=max).contains(&n) => Ok(Some(n)),
        _ => Err(mlua::Error::runtime(format!(
            "bad argument #{arg} to '{name}' (expected integer between {min} and {max})"
        ))),
    }
}

/// lua-cjson's on/off option (`true`, `false`, `"on"`, `"off"`, and `"null"` where allowed).
fn json_enum_arg(v: &Value, name: &str, allow_null: bool) -> mlua::Result<Option<u8>> {
    match v {
        Value::Nil => Ok(None),
        Value::Boolean(b) => Ok(Some(*b as u8)),
        Value::String(s) if s == "off" => Ok(Some(0)),
        Value::String(s) if s == "on" => Ok(Some(1)),
        Value::String(s) if allow_null && s == "null" => Ok(Some(2)),
        Value::String(s) => Err(mlua::Error::runtime(format!(
            "bad argument #1 to '{name}' (invalid option '{}')",
            s.to_string_lossy()
        ))),
        other => Err(mlua::Error::runtime(format!(
            "bad argument #1 to '{name}' (string expected, got {})",
            other.type_name()
        ))),
    }
}

/// Redis's bundled lua-cjson: `encode`, `decode`, `null` (a light userdata, as lua-cjson's) and
/// its settings.
pub fn cjson_library(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    let cfg = Arc::new(JsonConfig::default());
    let c = cfg.clone();
    t.raw_set(
        "encode",
        lua.create_function(move |_, v: Value| {
            let mut out = String::new();
            encode_json_with(&v, &mut out, 0, &c).map_err(mlua::Error::runtime)?;
            Ok(out)
        })?,
    )?;
    let c = cfg.clone();
    t.raw_set(
        "decode",
        lua.create_function(move |lua, s: mlua::String| {
            let v: serde_json::Value = serde_json::from_slice(&s.as_bytes()).map_err(|e| {
                mlua::Error::runtime(format!("Expected value but found invalid token: {e}"))
            })?;
            json_to_lua(lua, &v, 0, c.decode_max_depth.load(Relaxed).min(MAX_DEPTH))
        })?,
    )?;
    type DepthSlot = fn(&JsonConfig) -> &AtomicUsize;
    let depths: [(&str, DepthSlot); 2] = [
        ("encode_max_depth", |c| &c.encode_max_depth),
        ("decode_max_depth", |c| &c.decode_max_depth),
    ];
    for (name, slot_of) in depths {
        let c = cfg.clone();
        t.raw_set(
            name,
            lua.create_function(move |_, v: Value| {
                let slot = slot_of(&c);
                if let Some(n) = json_int_arg(&v, 1, name, 1, i32::MAX as i64)? {
                    slot.store(n as usize, Relaxed);
                }
                Ok(slot.load(Relaxed) as i64)
            })?,
        )?;
    }
    let c = cfg.clone();
    t.raw_set(
        "encode_number_precision",
        lua.create_function(move |_, v: Value| {
            if let Some(n) = json_int_arg(&v, 1, "encode_number_precision", 1, 14)? {
                c.encode_number_precision.store(n as u8, Relaxed);
            }
            Ok(c.encode_number_precision.load(Relaxed) as i64)
        })?,
    )?;
    let c = cfg.clone();
    t.raw_set(
        "encode_invalid_numbers",
        lua.create_function(move |lua, v: Value| {
            if let Some(n) = json_enum_arg(&v, "encode_invalid_numbers", true)? {
                c.encode_invalid_numbers.store(n, Relaxed);
            }
            Ok(match c.encode_invalid_numbers.load(Relaxed) {
                2 => Value::String(lua.create_string("null")?),
                n => Value::Boolean(n == 1),
            })
        })?,
    )?;
    type SwitchSlot = fn(&JsonConfig) -> &AtomicBool;
    let switches: [(&str, SwitchSlot); 2] = [
        ("decode_invalid_numbers", |c| &c.decode_invalid_numbers),
        ("encode_keep_buffer", |c| &c.encode_keep_buffer),
    ];
    for (name, slot_of) in switches {
        let c = cfg.clone();
        t.raw_set(
            name,
            lua.create_function(move |_, v: Value| {
                let slot = slot_of(&c);
                if let Some(n) = json_enum_arg(&v, name, false)? {
                    slot.store(n == 1, Relaxed);
                }
                Ok(slot.load(Relaxed))
            })?,
        )?;
    }
    let c = cfg.clone();
    t.raw_set(
        "encode_sparse_array",
        lua.create_function(move |_, (convert, ratio, safe): (Value, Value, Value)| {
            if let Some(n) = json_enum_arg(&convert, "encode_sparse_array", false)? {
                c.sparse_convert.store(n == 1, Relaxed);
            }
            if let Some(n) = json_int_arg(&ratio, 2, "encode_sparse_array", 0, i32::MAX as i64)? {
                c.sparse_ratio.store(n as usize, Relaxed);
            }
            if let Some(n) = json_int_arg(&safe, 3, "encode_sparse_array", 0, i32::MAX as i64)? {
                c.sparse_safe.store(n as usize, Relaxed);
            }
            Ok((
                c.sparse_convert.load(Relaxed),
                c.sparse_ratio.load(Relaxed) as i64,
                c.sparse_safe.load(Relaxed) as i64,
            ))
        })?,
    )?;
    t.raw_set("_NAME", "cjson")?;
    t.raw_set("_VERSION", "2.1.0")?;
    t.raw_set(
        "null",
        Value::LightUserData(mlua::LightUserData(std::ptr::null_mut())),
    )?;
    Ok(t)
}

fn json_to_lua(
    lua: &Lua,
    v: &serde_json::Value,
    depth: usize,
    max_depth: usize,
) -> mlua::Result<Value> {
    // Arrays and objects count the nesting (lua-cjson's rule).
    let nested = matches!(
        v,
        serde_json::Value::Array(_) | serde_json::Value::Object(_)
    );
    if nested && depth >= max_depth {
        return Err(mlua::Error::runtime(format!(
            "Found too many nested data structures ({})",
            depth + 1
        )));
    }
    Ok(match v {
        serde_json::Value::Null => Value::LightUserData(mlua::LightUserData(std::ptr::null_mut())),
        serde_json::Value::Bool(b) => Value::Boolean(*b),
        serde_json::Value::Number(n) => Value::Number(n.as_f64().unwrap_or(0.0)),
        serde_json::Value::String(s) => Value::String(lua.create_string(s)?),
        serde_json::Value::Array(a) => {
            let t = lua.create_table_with_capacity(a.len(), 0)?;
            for (i, x) in a.iter().enumerate() {
                t.raw_set(i + 1, json_to_lua(lua, x, depth + 1, max_depth)?)?;
            }
            Value::Table(t)
        }
        serde_json::Value::Object(o) => {
            let t = lua.create_table_with_capacity(0, o.len())?;
            for (k, x) in o {
                t.raw_set(
                    lua.create_string(k)?,
                    json_to_lua(lua, x, depth + 1, max_depth)?,
                )?;
            }
            Value::Table(t)
        }
    })
}

/// lua-cjson's number format (`%.14g`).
pub fn format_g14(x: f64) -> String {
    format_g(x, 14)
}

/// C's `%.<precision>g`.
pub(crate) fn format_g(x: f64, precision: u8) -> String {
    let p = precision.max(1) as i32;
    if x.is_nan() {
        return "nan".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if x == 0.0 {
        return if x.is_sign_negative() {
            "-0".into()
        } else {
            "0".into()
        };
    }
    // %g: scientific when the exponent is < -4 or >= the precision.
    let sci = format!("{x:.*e}", (p - 1) as usize);
    let (mantissa, exp) = sci.split_once('e').expect("{:e} has an exponent");
    let exp: i32 = exp.parse().expect("exponent");
    if !(-4..p).contains(&exp) {
        let m = trim_fraction(mantissa);
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{m}e{sign}{:02}", exp.abs())
    } else {
        let decimals = (p - 1 - exp).max(0) as usize;
        trim_fraction(&format!("{x:.decimals$}")).to_string()
    }
}

fn trim_fraction(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

#[cfg(test)]
fn encode_json(v: &Value, out: &mut String, depth: usize) -> Result<(), String> {
    encode_json_with(v, out, depth, &JsonConfig::default())
}

fn encode_json_with(
    v: &Value,
    out: &mut String,
    depth: usize,
    cfg: &JsonConfig,
) -> Result<(), String> {
    match v {
        Value::Nil => out.push_str("null"),
        Value::LightUserData(p) if p.0.is_null() => out.push_str("null"),
        Value::Boolean(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Integer(n) => out.push_str(&n.to_string()),
        Value::Number(n) if !n.is_finite() => match cfg.encode_invalid_numbers.load(Relaxed) {
            0 => return Err("Cannot serialise number: must not be NaN or Inf".to_string()),
            1 => out.push_str(&format_g14(*n)),
            _ => out.push_str("null"),
        },
        Value::Number(n) => out.push_str(&format_g(*n, cfg.encode_number_precision.load(Relaxed))),
        Value::String(s) => encode_json_string(&s.as_bytes(), out),
        Value::Table(t) => {
            // Tables count the nesting (lua-cjson's rule), capped at MAX_DEPTH whatever the
            // setting: the recursion runs on the thread's stack.
            let max_depth = cfg.encode_max_depth.load(Relaxed).min(MAX_DEPTH);
            if depth >= max_depth {
                return Err(format!(
                    "Cannot serialise, excessive nesting ({})",
                    depth + 1
                ));
            }
            // An array when every key is a positive integer (lua-cjson's rule; sparse arrays
            // up to its ratio are padded with null), else an object with string keys.
            let mut max = 0usize;
            let mut count = 0usize;
            let mut array = true;
            for pair in t.pairs::<Value, Value>() {
                let (k, _) = pair.map_err(|e| e.to_string())?;
                count += 1;
                match k {
                    Value::Number(n) if n >= 1.0 && n.fract() == 0.0 => max = max.max(n as usize),
                    Value::Integer(n) if n >= 1 => max = max.max(n as usize),
                    _ => array = false,
                }
            }
            let (ratio, safe) = (
                cfg.sparse_ratio.load(Relaxed),
                cfg.sparse_safe.load(Relaxed),
            );
            let sparse = max > safe && ratio > 0 && max > count * ratio;
            if array && count > 0 && sparse && cfg.sparse_convert.load(Relaxed) {
                array = false;
            }
            if array && count > 0 && !sparse {
                out.push('[');
                for i in 1..=max {
                    if i > 1 {
                        out.push(',');
                    }
                    let v: Value = t.raw_get(i).map_err(|e| e.to_string())?;
                    encode_json_with(&v, out, depth + 1, cfg)?;
                }
                out.push(']');
            } else if array && count > 0 {
                return Err("Cannot serialise table: excessively sparse array".into());
            } else {
                out.push('{');
                let mut first = true;
                for pair in t.pairs::<Value, Value>() {
                    let (k, v) = pair.map_err(|e| e.to_string())?;
                    if !first {
                        out.push(',');
                    }
                    first = false;
                    match &k {
                        Value::String(s) => encode_json_string(&s.as_bytes(), out),
                        Value::Number(n) => encode_json_string(format_g14(*n).as_bytes(), out),
                        Value::Integer(n) => encode_json_string(n.to_string().as_bytes(), out),
                        _ => {
                            return Err(
                                "Cannot serialise table: table key must be a number or string"
                                    .into(),
                            )
                        }
                    }
                    out.push(':');
                    encode_json_with(&v, out, depth + 1, cfg)?;
                }
                out.push('}');
            }
        }
        other => {
            return Err(format!(
                "Cannot serialise {}: type not supported",
                other.type_name()
            ));
        }
    }
    Ok(())
}

fn encode_json_string(b: &[u8], out: &mut String) {
    out.push('"');
    for ch in String::from_utf8_lossy(b).chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '/' => out.push_str("\\/"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\u{:04x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn g14_formats_like_c() {
        assert_eq!(format_g14(1.0), "1");
        assert_eq!(format_g14(1.5), "1.5");
        assert_eq!(format_g14(0.1 + 0.2), "0.3");
        assert_eq!(format_g14(1e20), "1e+20");
        assert_eq!(format_g14(123456789012345.0), "1.2345678901234e+14");
        assert_eq!(format_g14(0.0001), "0.0001");
        assert_eq!(format_g14(0.00001), "1e-05");
        assert_eq!(format_g14(-2.5), "-2.5");
    }

    #[test]
    fn replies_convert_both_ways() {
        let lua = Lua::new();
        let reply = b"*4\r\n:1\r\n$3\r\nabc\r\n$-1\r\n*1\r\n+OK\r\n";
        let mut pos = 0;
        let v = reply_to_lua(&lua, reply, &mut pos).unwrap();
        assert_eq!(pos, reply.len());
        let back = written(false, |w| lua_to_reply(&v, false, w));
        // false (the null bulk) goes back as a null; {ok=...} as a status
        assert_eq!(&back[..], b"*4\r\n:1\r\n$3\r\nabc\r\n$-1\r\n*1\r\n+OK\r\n");
        let map = b"%1\r\n$1\r\na\r\n,1.5\r\n";
        let mut pos = 0;
        let v = reply_to_lua(&lua, map, &mut pos).unwrap();
        let back = written(true, |w| lua_to_reply(&v, true, w));
        assert_eq!(&back[..], b"%1\r\n$1\r\na\r\n,1.5\r\n");
        // a truncated reply is an error, not a panic
        let mut pos = 0;
        assert!(reply_to_lua(&lua, b"*2\r\n:1\r\n", &mut pos).is_err());
    }

    #[test]
    fn self_referencing_tables_do_not_recurse_forever() {
        let lua = Lua::new();
        let t: Table = lua.load("local t = {} t[1] = t return t").eval().unwrap();
        let out = written(false, |w| lua_to_reply(&Value::Table(t.clone()), false, w));
        assert!(out.windows(10).any(|w| w == b"stack limi"));
        let mut s = String::new();
        assert!(encode_json(&Value::Table(t), &mut s, 0).is_err());
    }
}
