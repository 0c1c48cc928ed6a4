//! Go's `text/template` language, exact to the byte and to the error.
