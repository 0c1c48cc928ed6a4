//! Waiting for readiness by watching.
