//! (being written)
use crate::resp::dispatch::CommandSpec;

pub const COMMANDS: &[CommandSpec] = &[];
