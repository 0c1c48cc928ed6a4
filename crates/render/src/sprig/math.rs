//! Sprig's math functions.

use ferry_gotmpl::Funcs;

/// Registers this group's functions.
pub fn register(_funcs: &mut Funcs) {}
