//! The Lua libraries that parse bytes a client sends (script arguments): `cmsgpack.unpack`,
//! `cjson.decode`, `struct.unpack` (its format and its data both from the input). None may
//! panic, hang or grow without bound; errors are the expected answer to most inputs.
#![no_main]

use std::cell::RefCell;

use ferrite::resp::scripting::vm::ScriptVm;
use libfuzzer_sys::fuzz_target;
use mlua::{Function, MultiValue, Table};

thread_local! {
    static VM: RefCell<ScriptVm> = RefCell::new(ScriptVm::new(64 << 20).expect("a Lua VM"));
}

fn call(vm: &ScriptVm, lib: &str, name: &str, args: impl mlua::IntoLuaMulti) {
    let g = vm.lua.globals();
    let t: Table = g.get(lib).expect("library");
    let f: Function = t.get(name).expect("function");
    let _ = f.call::<MultiValue>(args);
}

fuzz_target!(|data: &[u8]| {
    VM.with(|vm| {
        let vm = vm.borrow();
        let lua = &vm.lua;
        let input = lua.create_string(data).expect("string");
        call(&vm, "cmsgpack", "unpack", input.clone());
        call(&vm, "cmsgpack", "unpack_limit", (input.clone(), 3, 0));
        call(&vm, "cjson", "decode", input.clone());
        // struct: the first byte says how long the format is, the rest is the data
        let n = data.first().map_or(0, |&b| (b as usize % 24).min(data.len().saturating_sub(1)));
        if !data.is_empty() {
            let fmt = lua.create_string(&data[1..1 + n]).expect("string");
            let rest = lua.create_string(&data[1 + n..]).expect("string");
            call(&vm, "struct", "unpack", (fmt.clone(), rest));
            call(&vm, "struct", "size", fmt);
        }
        vm.tidy();
    });
});
