//! The value model: what templates see and what functions receive.
//!
//! [`Value`] mirrors the Go values Helm hands to `text/template`: `nil`,
//! `bool`, `int`, `int64`, `uint64`, `float64`, `complex128`, `string`,
//! slices, `map[string]T`, structs and functions. Everything is cheap to
//! clone: strings, lists, maps and structs sit behind `Arc`.
//!
//! Maps are *reference* values like Go maps: a clone shares the entries, so a
//! function that mutates a map (Sprig's `set`) is seen through every copy.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::funcs::Function;

/// A Go type, as far as templates can tell types apart.
///
/// Used for function signatures (what a parameter accepts) and to describe
/// the element type of lists and maps. `Display` prints Go's spelling
/// (`interface {}`, `[]string`, `map[string]interface {}`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Type {
    /// `interface {}`: accepts anything, including nil.
    Interface,
    /// `reflect.Value`: like [`Type::Interface`] but the function sees the
    /// argument exactly as evaluated (used by the builtins).
    Reflect,
    /// `bool`
    Bool,
    /// `int`
    Int,
    /// `int64`
    Int64,
    /// `uint64`
    Uint64,
    /// `float64`
    Float64,
    /// `complex128`
    Complex128,
    /// `string`
    String,
    /// `[]T`
    Slice(Box<Type>),
    /// `map[string]T`
    Map(Box<Type>),
    /// A function value.
    Func,
    /// A named (defined) type such as `common.Values` or `*chart.Metadata`,
    /// with its underlying type.
    Named(Arc<str>, Box<Type>),
}

impl Type {
    /// `[]interface {}`
    pub fn list() -> Type {
        Type::Slice(Box::new(Type::Interface))
    }

    /// `uint8` (Go's `byte`), the element type of a `[]byte` ([`List::bytes`]); its values
    /// are held as [`Value::Int`].
    pub fn uint8() -> Type {
        Type::Named("uint8".into(), Box::new(Type::Int))
    }

    /// `map[string]interface {}`
    pub fn map() -> Type {
        Type::Map(Box::new(Type::Interface))
    }

    /// The underlying type: strips names.
    pub fn underlying(&self) -> &Type {
        match self {
            Type::Named(_, u) => u.underlying(),
            t => t,
        }
    }

    /// Whether an untyped `nil` can be assigned to this type.
    pub fn can_be_nil(&self) -> bool {
        match self.underlying() {
            Type::Interface | Type::Reflect | Type::Slice(_) | Type::Map(_) | Type::Func => true,
            Type::Named(..) => unreachable!("underlying strips names"),
            _ => false,
        }
    }

    /// Go's assignability: identical types, or a named and an unnamed type
    /// with identical underlying types, or anything to an interface.
    pub fn assignable_to(&self, to: &Type) -> bool {
        if matches!(to, Type::Interface | Type::Reflect) {
            return true;
        }
        if self == to {
            return true;
        }
        let named_self = matches!(self, Type::Named(..));
        let named_to = matches!(to, Type::Named(..));
        if named_self && named_to {
            return false;
        }
        self.underlying() == to.underlying()
    }
}

impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Type::Interface => f.write_str("interface {}"),
            Type::Reflect => f.write_str("reflect.Value"),
            Type::Bool => f.write_str("bool"),
            Type::Int => f.write_str("int"),
            Type::Int64 => f.write_str("int64"),
            Type::Uint64 => f.write_str("uint64"),
            Type::Float64 => f.write_str("float64"),
            Type::Complex128 => f.write_str("complex128"),
            Type::String => f.write_str("string"),
            Type::Slice(e) => write!(f, "[]{e}"),
            Type::Map(e) => write!(f, "map[string]{e}"),
            Type::Func => f.write_str("func"),
            Type::Named(n, _) => f.write_str(n),
        }
    }
}

/// A named Go type attached to a list, map or struct value: its name (as
/// `%T` prints it) and its methods.
///
/// Methods are [`Function`]s whose first argument is the receiver; the
/// signature lists the parameters *after* the receiver.
pub struct TypeInfo {
    name: Arc<str>,
    methods: BTreeMap<String, Function>,
    stringer: Option<Stringer>,
}

/// A Go `String() string` method, used by `fmt` when printing a value.
pub type Stringer = Arc<dyn Fn(&Value) -> String + Send + Sync>;

impl fmt::Debug for TypeInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TypeInfo")
            .field("name", &self.name)
            .field("methods", &self.methods.keys().collect::<Vec<_>>())
            .field("stringer", &self.stringer.is_some())
            .finish()
    }
}

impl TypeInfo {
    /// A named type without methods.
    pub fn new(name: impl Into<Arc<str>>) -> Self {
        TypeInfo {
            name: name.into(),
            methods: BTreeMap::new(),
            stringer: None,
        }
    }

    /// Gives the type a `String()` method that `fmt` uses for `%v`, `%s`,
    /// `%q`, `%x` and `%X` (builder style).
    pub fn with_stringer(mut self, f: impl Fn(&Value) -> String + Send + Sync + 'static) -> Self {
        self.stringer = Some(Arc::new(f));
        self
    }

    /// Calls the `String()` method, if the type has one.
    pub fn stringify(&self, v: &Value) -> Option<String> {
        self.stringer.as_ref().map(|f| f(v))
    }

    /// Adds a method (builder style).
    pub fn with_method(mut self, name: &str, f: Function) -> Self {
        self.methods.insert(name.to_string(), f);
        self
    }

    /// The Go type name, e.g. `common.Values`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Looks a method up by name.
    pub fn method(&self, name: &str) -> Option<&Function> {
        self.methods.get(name)
    }
}

/// A template value. See the [module docs](self).
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub enum Value {
    /// Go's `nil` (and, for functions, a missing value).
    #[default]
    Nil,
    /// `bool`
    Bool(bool),
    /// `int` (64 bits, as on Helm's platforms)
    Int(i64),
    /// `int64`
    Int64(i64),
    /// `uint64`
    Uint64(u64),
    /// `float64`
    Float(f64),
    /// `complex128`
    Complex(f64, f64),
    /// `string`
    String(Arc<str>),
    /// A slice.
    List(List),
    /// A `map[string]T`, possibly of a named type.
    Map(Map),
    /// A struct (or pointer to struct) with ordered fields.
    Struct(Arc<Struct>),
    /// A function value (for the `call` builtin).
    Func(Function),
}

impl Value {
    /// Builds a string value.
    pub fn string(s: impl Into<Arc<str>>) -> Value {
        Value::String(s.into())
    }

    /// Builds a `[]interface {}` list.
    pub fn list(items: impl IntoIterator<Item = Value>) -> Value {
        Value::List(List::new(items.into_iter().collect()))
    }

    /// Builds a `map[string]interface {}`.
    pub fn map<K: Into<String>>(entries: impl IntoIterator<Item = (K, Value)>) -> Value {
        Value::Map(Map::from_entries(entries))
    }

    /// The value's Go type.
    pub fn type_of(&self) -> Option<Type> {
        Some(match self {
            Value::Nil => return None,
            Value::Bool(_) => Type::Bool,
            Value::Int(_) => Type::Int,
            Value::Int64(_) => Type::Int64,
            Value::Uint64(_) => Type::Uint64,
            Value::Float(_) => Type::Float64,
            Value::Complex(..) => Type::Complex128,
            Value::String(_) => Type::String,
            Value::List(l) => {
                let t = Type::Slice(Box::new(l.elem().clone()));
                match l.type_info() {
                    Some(ti) => Type::Named(ti.name.clone(), Box::new(t)),
                    None => t,
                }
            }
            Value::Map(m) => {
                let t = Type::Map(Box::new(m.elem().clone()));
                match m.type_info() {
                    Some(ti) => Type::Named(ti.name.clone(), Box::new(t)),
                    None => t,
                }
            }
            Value::Struct(s) => Type::Named(s.ty.name.clone(), Box::new(Type::Interface)),
            Value::Func(_) => Type::Func,
        })
    }

    /// The Go type as `%T` prints it (`<nil>` for nil).
    pub fn type_name(&self) -> String {
        match self {
            Value::Nil => "<nil>".to_string(),
            Value::Struct(s) => s.ty.name.to_string(),
            Value::Func(f) => f.type_string(),
            v => v.type_of().map(|t| t.to_string()).unwrap_or_default(),
        }
    }

    /// Go's reflect kind name (`invalid`, `bool`, `int`, `int64`, `uint64`,
    /// `float64`, `complex128`, `string`, `slice`, `map`, `struct`, `ptr`,
    /// `func`), as Sprig's `kindOf` prints it.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Value::Nil => "invalid",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Int64(_) => "int64",
            Value::Uint64(_) => "uint64",
            Value::Float(_) => "float64",
            Value::Complex(..) => "complex128",
            Value::String(_) => "string",
            Value::List(_) => "slice",
            Value::Map(_) => "map",
            Value::Struct(s) if s.pointer => "ptr",
            Value::Struct(_) => "struct",
            Value::Func(_) => "func",
        }
    }

    /// Go's truth (`if`, `with`, `and`, `or`, `not`): false for nil, false,
    /// zero numbers, and empty strings, lists and maps.
    pub fn is_true(&self) -> bool {
        match self {
            Value::Nil => false,
            Value::Bool(b) => *b,
            Value::Int(i) | Value::Int64(i) => *i != 0,
            Value::Uint64(u) => *u != 0,
            Value::Float(f) => *f != 0.0,
            Value::Complex(r, i) => *r != 0.0 || *i != 0.0,
            Value::String(s) => !s.is_empty(),
            Value::List(l) => !l.is_empty(),
            Value::Map(m) => !m.is_empty(),
            Value::Struct(_) | Value::Func(_) => true,
        }
    }

    /// Whether this is `nil`.
    pub fn is_nil(&self) -> bool {
        matches!(self, Value::Nil)
    }

    /// The string inside, if this is a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// Formats like Go's `fmt.Sprint(v)` (`%v`).
    pub fn to_go_string(&self) -> String {
        crate::gofmt::sprint(std::slice::from_ref(self))
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}
impl From<i64> for Value {
    fn from(i: i64) -> Self {
        Value::Int(i)
    }
}
impl From<f64> for Value {
    fn from(f: f64) -> Self {
        Value::Float(f)
    }
}
impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::String(s.into())
    }
}
impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::String(s.into())
    }
}
impl From<Vec<Value>> for Value {
    fn from(v: Vec<Value>) -> Self {
        Value::List(List::new(v))
    }
}

/// Structural equality (maps compare by content), for tests and callers.
impl PartialEq for Value {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Value::Nil, Value::Nil) => true,
            (Value::Bool(a), Value::Bool(b)) => a == b,
            (Value::Int(a), Value::Int(b)) | (Value::Int64(a), Value::Int64(b)) => a == b,
            (Value::Uint64(a), Value::Uint64(b)) => a == b,
            (Value::Float(a), Value::Float(b)) => a == b,
            (Value::Complex(a, b), Value::Complex(c, d)) => a == c && b == d,
            (Value::String(a), Value::String(b)) => a == b,
            (Value::List(a), Value::List(b)) => a.elem() == b.elem() && a.items() == b.items(),
            (Value::Map(a), Value::Map(b)) => Arc::ptr_eq(&a.0, &b.0) || *a.read() == *b.read(),
            (Value::Struct(a), Value::Struct(b)) => {
                Arc::ptr_eq(a, b) || (a.ty.name == b.ty.name && a.fields == b.fields)
            }
            (Value::Func(a), Value::Func(b)) => a.ptr_eq(b),
            _ => false,
        }
    }
}

#[derive(Debug)]
struct ListInner {
    items: Vec<Value>,
    elem: Type,
    ty: Option<Arc<TypeInfo>>,
}

/// An immutable slice value (`[]T`), shared by reference count.
#[derive(Clone, Debug)]
pub struct List(Arc<ListInner>);

impl List {
    /// A `[]interface {}`.
    pub fn new(items: Vec<Value>) -> List {
        List::typed(items, Type::Interface)
    }

    /// A slice whose elements have the given Go type (`[]string`, `[]int`).
    pub fn typed(items: Vec<Value>, elem: Type) -> List {
        List(Arc::new(ListInner {
            items,
            elem,
            ty: None,
        }))
    }

    /// Go's `[]byte` (`[]uint8`) of `bytes`: printed as numbers by `%v`, as text by `%s`,
    /// `%q`, `%x`; base64 in JSON.
    pub fn bytes(bytes: &[u8]) -> List {
        List::typed(
            bytes.iter().map(|&b| Value::Int(i64::from(b))).collect(),
            Type::uint8(),
        )
    }

    /// The bytes of a [`List::bytes`] list (`None` for other lists).
    pub fn as_bytes(&self) -> Option<Vec<u8>> {
        if !matches!(self.elem(), Type::Named(n, _) if &**n == "uint8") {
            return None;
        }
        self.items()
            .iter()
            .map(|v| match v {
                Value::Int(i) => u8::try_from(*i).ok(),
                _ => None,
            })
            .collect()
    }

    /// A slice of a named type (e.g. `common.VersionSet`).
    pub fn named(items: Vec<Value>, elem: Type, ty: Arc<TypeInfo>) -> List {
        List(Arc::new(ListInner {
            items,
            elem,
            ty: Some(ty),
        }))
    }

    /// The elements.
    pub fn items(&self) -> &[Value] {
        &self.0.items
    }

    /// The element type.
    pub fn elem(&self) -> &Type {
        &self.0.elem
    }

    /// The named type, if any.
    pub fn type_info(&self) -> Option<&Arc<TypeInfo>> {
        self.0.ty.as_ref()
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.0.items.len()
    }

    /// Whether there are no elements.
    pub fn is_empty(&self) -> bool {
        self.0.items.is_empty()
    }

    /// The sub-slice `[lo:hi]` with the same element and named type (as
    /// Go's `reflect.Value.Slice` keeps the type), or `None` when the range
    /// is out of bounds.
    pub fn slice(&self, lo: usize, hi: usize) -> Option<List> {
        let items = self.0.items.get(lo..hi)?.to_vec();
        Some(List(Arc::new(ListInner {
            items,
            elem: self.0.elem.clone(),
            ty: self.0.ty.clone(),
        })))
    }
}

thread_local! {
    /// The innermost [`watch_shared_writes`] call running on this thread (0: none), and
    /// the oldest map it wrote to (by the number of the call that made it; `u64::MAX`:
    /// none yet).
    static WATCH: Cell<(u64, u64)> = const { Cell::new((0, u64::MAX)) };
}

/// Numbers the [`watch_shared_writes`] calls of the process, in the order they begin.
static NEXT_WATCH: AtomicU64 = AtomicU64::new(1);

/// Runs `f` (a template execution, say) and tells whether it wrote to any map that existed
/// before `f` began: a map of the data it was given, or one reachable from it. Writes to
/// maps `f` made itself (`dict`, `fromYaml`, …) don't count; entries a lazy map builds on
/// first use are as old as the map. A renderer that runs templates side by side runs each
/// under this: when none of them wrote a map it did not make, none could see another's
/// writes, and running them one after the other would have given the same outputs.
pub fn watch_shared_writes<T>(f: impl FnOnce() -> T) -> (T, bool) {
    let id = NEXT_WATCH.fetch_add(1, Ordering::Relaxed);
    let (outer, outer_oldest) = WATCH.replace((id, u64::MAX));
    let out = f();
    let (_, oldest) = WATCH.get();
    // an enclosing call saw the same writes
    WATCH.set((outer, outer_oldest.min(oldest)));
    (out, oldest < id)
}

/// Builds a lazy map's entries on first use.
type MapInit = Box<dyn FnOnce() -> BTreeMap<String, Value> + Send>;

struct MapInner {
    /// Set at construction, or on first use from `init` for a [`Map::lazy`] map.
    entries: OnceLock<RwLock<BTreeMap<String, Value>>>,
    init: Mutex<Option<MapInit>>,
    elem: Type,
    ty: Option<Arc<TypeInfo>>,
    /// The number of the [`watch_shared_writes`] call that made the map (0: none).
    born: u64,
}

impl fmt::Debug for MapInner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("MapInner");
        match self.entries.get() {
            Some(e) => d.field("entries", e),
            None => d.field("entries", &"(not built yet)"),
        };
        d.field("elem", &self.elem).field("ty", &self.ty).finish()
    }
}

/// A `map[string]T` value. Clones share the entries, as Go maps do.
/// Iteration and printing are in sorted key order (Go's `fmtsort`).
#[derive(Clone, Debug)]
pub struct Map(Arc<MapInner>);

impl Default for Map {
    fn default() -> Self {
        Map::new()
    }
}

impl Map {
    /// An empty `map[string]interface {}`.
    pub fn new() -> Map {
        Map::with_type(BTreeMap::new(), Type::Interface, None)
    }

    /// A map from entries.
    pub fn from_entries<K: Into<String>>(entries: impl IntoIterator<Item = (K, Value)>) -> Map {
        Map::with_type(
            entries.into_iter().map(|(k, v)| (k.into(), v)).collect(),
            Type::Interface,
            None,
        )
    }

    /// A map with an element type and an optional named type
    /// (e.g. `common.Values`).
    pub fn with_type(
        entries: BTreeMap<String, Value>,
        elem: Type,
        ty: Option<Arc<TypeInfo>>,
    ) -> Map {
        Map(Arc::new(MapInner {
            entries: OnceLock::from(RwLock::new(entries)),
            init: Mutex::new(None),
            elem,
            ty,
            born: WATCH.get().0,
        }))
    }

    /// A map whose entries `init` builds when something first reads or writes it (never,
    /// when nothing does): for a render context entry most templates never touch, whose
    /// values are costly to hold (`.Files` of a chart whose large files are not loaded yet).
    pub fn lazy(
        init: impl FnOnce() -> BTreeMap<String, Value> + Send + 'static,
        elem: Type,
        ty: Option<Arc<TypeInfo>>,
    ) -> Map {
        Map(Arc::new(MapInner {
            entries: OnceLock::new(),
            init: Mutex::new(Some(Box::new(init))),
            elem,
            ty,
            born: WATCH.get().0,
        }))
    }

    fn entries_lock(&self) -> &RwLock<BTreeMap<String, Value>> {
        self.0.entries.get_or_init(|| {
            let init = self.0.init.lock().unwrap_or_else(|e| e.into_inner()).take();
            // what the entries hold is as old as the map itself
            let watch = WATCH.replace((self.0.born, u64::MAX));
            let entries = init.map(|f| f()).unwrap_or_default();
            WATCH.set(watch);
            RwLock::new(entries)
        })
    }

    /// Read access to the entries. Don't hold it across calls that may
    /// write the same map.
    pub fn read(&self) -> RwLockReadGuard<'_, BTreeMap<String, Value>> {
        self.entries_lock()
            .read()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// Write access to the entries (Go maps are mutable through any copy).
    pub fn write(&self) -> RwLockWriteGuard<'_, BTreeMap<String, Value>> {
        let (watch, oldest) = WATCH.get();
        if watch != 0 && self.0.born < oldest {
            WATCH.set((watch, self.0.born));
        }
        self.entries_lock()
            .write()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// Looks a key up.
    pub fn get(&self, key: &str) -> Option<Value> {
        self.read().get(key).cloned()
    }

    /// Sets a key.
    pub fn insert(&self, key: impl Into<String>, v: Value) {
        self.write().insert(key.into(), v);
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.read().len()
    }

    /// Whether empty.
    pub fn is_empty(&self) -> bool {
        self.read().is_empty()
    }

    /// A sorted snapshot of the entries.
    pub fn entries(&self) -> Vec<(String, Value)> {
        self.read()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// The element type.
    pub fn elem(&self) -> &Type {
        &self.0.elem
    }

    /// The named type, if any.
    pub fn type_info(&self) -> Option<&Arc<TypeInfo>> {
        self.0.ty.as_ref()
    }

    /// Whether both handles share the same entries.
    pub fn ptr_eq(&self, other: &Map) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

/// A struct value with ordered fields, or a pointer to one.
#[derive(Debug)]
pub struct Struct {
    ty: Arc<TypeInfo>,
    fields: Vec<(String, Value)>,
    pointer: bool,
}

impl Struct {
    /// A struct of the named type with the given fields in declaration
    /// order. `pointer` makes it a `*T` (printed `&{…}` inside collections).
    pub fn new(ty: Arc<TypeInfo>, fields: Vec<(String, Value)>, pointer: bool) -> Struct {
        Struct {
            ty,
            fields,
            pointer,
        }
    }

    /// The type.
    pub fn type_info(&self) -> &Arc<TypeInfo> {
        &self.ty
    }

    /// The fields in order.
    pub fn fields(&self) -> &[(String, Value)] {
        &self.fields
    }

    /// A field by name.
    pub fn field(&self, name: &str) -> Option<&Value> {
        self.fields.iter().find(|(k, _)| k == name).map(|(_, v)| v)
    }

    /// Whether this is a pointer to a struct.
    pub fn is_pointer(&self) -> bool {
        self.pointer
    }
}

impl Value {
    /// A copy of `self` that shares no map with it, made as it is read: each map is copied
    /// when something first reads or writes the copy ([`Map::lazy`]), one level at a time,
    /// and lists and structs that hold maps are copied with copies of those. What the copy's
    /// reader writes never reaches `self`; what it never reads is never copied. Copies are
    /// as old as the maps they copy ([`watch_shared_writes`] counts writes to them), and read
    /// their source when first used: its state then, not when `detached` was called.
    pub fn detached(&self) -> Value {
        match self {
            Value::Map(m) => Value::Map(m.detached()),
            Value::List(l) if l.items().iter().any(holds_maps) => {
                let items = l.items().iter().map(Value::detached).collect();
                Value::List(match l.type_info() {
                    Some(ty) => List::named(items, l.elem().clone(), ty.clone()),
                    None => List::typed(items, l.elem().clone()),
                })
            }
            Value::Struct(st) if st.fields().iter().any(|(_, v)| holds_maps(v)) => {
                Value::Struct(Arc::new(Struct::new(
                    st.type_info().clone(),
                    st.fields()
                        .iter()
                        .map(|(k, v)| (k.clone(), v.detached()))
                        .collect(),
                    st.is_pointer(),
                )))
            }
            v => v.clone(),
        }
    }
}

/// Whether a value is or holds a map (which [`Value::detached`] must copy).
fn holds_maps(v: &Value) -> bool {
    match v {
        Value::Map(_) => true,
        Value::List(l) => l.items().iter().any(holds_maps),
        Value::Struct(s) => s.fields().iter().any(|(_, v)| holds_maps(v)),
        _ => false,
    }
}

impl Map {
    /// A map that shares nothing with this one (see [`Value::detached`]).
    pub fn detached(&self) -> Map {
        let source = self.clone();
        Map::lazy(
            move || {
                source
                    .read()
                    .iter()
                    .map(|(k, v)| (k.clone(), v.detached()))
                    .collect()
            },
            self.elem().clone(),
            self.type_info().cloned(),
        )
    }
}

/// Go's `isTrue` as a free function.
pub fn is_true(v: &Value) -> bool {
    v.is_true()
}
