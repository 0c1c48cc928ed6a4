//! Go strings that are not UTF-8.
//!
//! A Go `string` holds any bytes: `.Files.Get` of a binary file, `b64dec` of binary data.
//! [`Value::String`] holds Rust text, which must be UTF-8, so such a string is kept as its
//! lossy text (each invalid byte `U+FFFD`, as Go prints it) and its bytes are remembered
//! here, keyed by that text's allocation. The functions that look at a string's bytes
//! rather than print it (`len`, `b64enc`, the checksums, `.Files.GetBytes`, `AsSecrets`)
//! ask [`go_bytes`] and get the bytes Helm would: `.Files.Get "ks.jks" | b64enc` gives the
//! keystore, not its lossy text. A string made from such a string (`upper`, `printf`) is
//! the lossy text, as printing it would be.
//!
//! The table holds a weak reference to each text, so a text's allocation (and its address)
//! is not reused while its entry exists; entries of texts no value holds any more are
//! dropped when the next one is added. When no string is in the table, [`go_bytes`] costs
//! one atomic load.

use std::borrow::Cow;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};

use crate::value::Value;

/// Entries in [`TABLE`] (an upper bound while one is being removed).
static ENTRIES: AtomicUsize = AtomicUsize::new(0);

/// A text that stands for bytes, and the bytes.
type Entry = (Weak<str>, Arc<[u8]>);

static TABLE: Mutex<Vec<Entry>> = Mutex::new(Vec::new());

fn table() -> std::sync::MutexGuard<'static, Vec<Entry>> {
    TABLE.lock().unwrap_or_else(|e| e.into_inner())
}

/// A Go string of `bytes`: the text itself when it is UTF-8, else the lossy text, with the
/// bytes remembered for [`go_bytes`].
pub fn bytes_value(bytes: &[u8]) -> Value {
    match std::str::from_utf8(bytes) {
        Ok(text) => Value::string(text),
        Err(_) => {
            let text: Arc<str> = String::from_utf8_lossy(bytes).into();
            remember_bytes(&text, bytes.into());
            Value::String(text)
        }
    }
}

/// Remembers that `text` (the lossy text of `bytes`, which are not UTF-8) stands for
/// `bytes`: [`go_bytes`] of it, or of any clone of it, gives them.
pub fn remember_bytes(text: &Arc<str>, bytes: Arc<[u8]>) {
    let mut t = table();
    let key = Arc::as_ptr(text) as *const u8;
    if t.iter()
        .any(|(w, _)| w.as_ptr() as *const u8 == key && w.strong_count() > 0)
    {
        return;
    }
    t.retain(|(w, _)| w.strong_count() > 0);
    t.push((Arc::downgrade(text), bytes));
    ENTRIES.store(t.len(), Ordering::Release);
}

/// The bytes of the Go string `s`: those [`remember_bytes`] kept for it when `s` is (all of)
/// such a text, else its own.
pub fn go_bytes(s: &str) -> Cow<'_, [u8]> {
    if ENTRIES.load(Ordering::Acquire) == 0 {
        return Cow::Borrowed(s.as_bytes());
    }
    let t = table();
    for (w, bytes) in t.iter() {
        // the weak reference keeps the allocation, so an equal address is this text
        if w.as_ptr() as *const u8 == s.as_ptr() && w.strong_count() > 0 {
            let len = w.upgrade().map_or(0, |text| text.len());
            if len == s.len() {
                return Cow::Owned(bytes.to_vec());
            }
        }
    }
    Cow::Borrowed(s.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_text_that_is_not_utf8_keeps_its_bytes_while_a_value_holds_it() {
        let raw = [0xff, 0xfe, 0x00, 0x01, b'a', b'b', b'c', 0x80];
        let v = bytes_value(&raw);
        let Value::String(text) = &v else {
            panic!("a string")
        };
        assert_eq!(&**text, "\u{fffd}\u{fffd}\u{0}\u{1}abc\u{fffd}");
        assert_eq!(go_bytes(text), &raw[..]);
        let copy = v.clone();
        assert_eq!(go_bytes(copy.as_str().unwrap()), &raw[..]);
        // the same characters in another allocation are just text
        let other = text.to_string();
        assert_eq!(go_bytes(&other), other.as_bytes());
        // a part of it is text too
        assert_eq!(go_bytes(&text[3..]), text[3..].as_bytes());
        drop((v, copy));
    }

    #[test]
    fn utf8_bytes_are_plain_text() {
        let v = bytes_value("héllo".as_bytes());
        assert_eq!(v.as_str(), Some("héllo"));
        assert_eq!(go_bytes(v.as_str().unwrap()), "héllo".as_bytes());
    }

    #[test]
    fn entries_of_dropped_texts_go_when_the_next_comes() {
        for i in 0..100u8 {
            let v = bytes_value(&[0xff, i]);
            assert_eq!(go_bytes(v.as_str().unwrap()), &[0xff, i][..]);
        }
        // the 99 earlier texts are gone; only the last (also dropped) or those of tests
        // running beside this one remain
        let _keep = bytes_value(&[0xff, 0xff]);
        assert!(table().len() < 10, "{} entries", table().len());
    }
}
