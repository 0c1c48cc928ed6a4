//! Helm's payload encoding (`pkg/storage/driver/util.go`): `json.Marshal` → gzip
//! (best compression) → standard base64. Decoding accepts gzipped and plain JSON.

use std::io::{Read, Write};

use base64::Engine as _;
use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;

use crate::model::Release;

/// Why a stored payload could not be read.
#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    /// Not base64.
    #[error("release payload is not base64: {0}")]
    Base64(#[from] base64::DecodeError),
    /// Corrupt gzip.
    #[error("release payload is not valid gzip: {0}")]
    Gzip(std::io::Error),
    /// Not a release record.
    #[error("release payload is not a release record: {0}")]
    Json(#[from] serde_json::Error),
}

/// Encodes a release as Helm stores it in `data.release`.
pub fn encode(rel: &Release) -> String {
    let json = serde_json::to_vec(rel).expect("a release serialises");
    let mut gz = GzEncoder::new(Vec::new(), Compression::best());
    gz.write_all(&json).expect("writing to memory");
    let bytes = gz.finish().expect("writing to memory");
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Decodes `data.release` as Helm's `decodeRelease` does.
pub fn decode(payload: &[u8]) -> Result<Release, CodecError> {
    let payload: Vec<u8> = payload
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    let raw = base64::engine::general_purpose::STANDARD.decode(payload)?;
    let json = if raw.starts_with(&[0x1f, 0x8b, 0x08]) {
        let mut out = Vec::new();
        GzDecoder::new(&raw[..])
            .read_to_end(&mut out)
            .map_err(CodecError::Gzip)?;
        out
    } else {
        raw
    };
    Ok(serde_json::from_slice(&json)?)
}
