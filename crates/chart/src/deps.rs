//! deps
