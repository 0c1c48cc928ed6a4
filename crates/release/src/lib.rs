//! Helm release records and storage drivers.
