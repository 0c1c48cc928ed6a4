//! Sprig's reflection functions (`reflect.go`): `typeOf`, `typeIs`, `typeIsLike`, `kindOf`,
//! `kindIs`, and `deepEqual` (Go's `reflect.DeepEqual`).

use ferry_gotmpl::{Funcs, Signature, Type, Value};

use super::util::deep_equal;

fn type_of(v: &Value) -> String {
    v.type_name()
}

/// Registers this group's functions.
pub fn register(funcs: &mut Funcs) {
    let i = || Type::Interface;
    let s = || Type::String;
    let b = || Type::Bool;
    funcs.add("typeOf", Signature::new([i()], s()), |_, a| {
        Ok(Value::from(type_of(&a[0])))
    });
    funcs.add("typeIs", Signature::new([s(), i()], b()), |_, a| {
        Ok(Value::Bool(a[0].as_str() == Some(type_of(&a[1]).as_str())))
    });
    funcs.add("typeIsLike", Signature::new([s(), i()], b()), |_, a| {
        let t = type_of(&a[1]);
        let target = a[0].as_str().unwrap_or_default();
        Ok(Value::Bool(target == t || format!("*{target}") == t))
    });
    funcs.add("kindOf", Signature::new([i()], s()), |_, a| {
        Ok(Value::from(a[0].kind_name()))
    });
    funcs.add("kindIs", Signature::new([s(), i()], b()), |_, a| {
        Ok(Value::Bool(a[0].as_str() == Some(a[1].kind_name())))
    });
    funcs.add("deepEqual", Signature::new([i(), i()], b()), |_, a| {
        Ok(Value::Bool(deep_equal(&a[0], &a[1])))
    });
}
