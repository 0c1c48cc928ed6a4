//! Sprig's hash and crypto functions (`crypto.go`): `sha1sum`, `sha256sum`, `sha512sum`,
//! `adler32sum`, `bcrypt`, `htpasswd`, `derivePassword`, `encryptAES`/`decryptAES`,
//! `genPrivateKey`, `genCA`, `genSelfSignedCert`, `genSignedCert` (and their `…WithKey`
//! forms), `buildCustomCert`.
//!
//! Certificates are built as Go's `x509.CreateCertificate` builds them from Sprig's
//! template: X.509 v3, a random 128-bit serial, CN-only subject, validity from now for
//! `days × 24h`, key usage (digital signature, key encipherment, plus cert sign for CAs),
//! server+client auth, basic constraints, SANs (DNS names then IPs), subject key id on
//! CAs and authority key id on CA-signed certificates; RSA 2048 keys, SHA-256 signatures,
//! PEM blocks `CERTIFICATE` and `RSA PRIVATE KEY`.

use std::sync::{Arc, OnceLock};

use ferry_gotmpl::{FuncError, Funcs, Signature, Struct, Type, TypeInfo, Value, go_bytes};
use rand_core::{OsRng, RngCore};
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha512};

type R = Result<Value, FuncError>;

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Adler-32 (`hash/adler32`).
fn adler32(data: &[u8]) -> u32 {
    const MOD: u32 = 65521;
    let (mut a, mut b) = (1u32, 0u32);
    for chunk in data.chunks(5552) {
        for &x in chunk {
            a += x as u32;
            b += a;
        }
        a %= MOD;
        b %= MOD;
    }
    (b << 16) | a
}

// ---- base64 and PEM, with Go's error texts ----

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard padded base64.
pub(crate) fn b64_encode(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for c in data.chunks(3) {
        let n = (c[0] as u32) << 16
            | (*c.get(1).unwrap_or(&0) as u32) << 8
            | *c.get(2).unwrap_or(&0) as u32;
        for (i, shift) in [18, 12, 6, 0].into_iter().enumerate() {
            if i <= c.len() {
                out.push(B64[(n >> shift) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Go's `base64.StdEncoding.DecodeString` (newlines ignored), with its
/// `illegal base64 data at input byte N` error.
pub(crate) fn b64_decode(s: &str) -> Result<Vec<u8>, String> {
    let err = |i: usize| format!("illegal base64 data at input byte {i}");
    let val = |c: u8| B64.iter().position(|&x| x == c).map(|p| p as u32);
    let bytes: Vec<(usize, u8)> = s
        .bytes()
        .enumerate()
        .filter(|(_, c)| *c != b'\n' && *c != b'\r')
        .collect();
    let mut out = Vec::with_capacity(bytes.len() / 4 * 3);
    let mut i = 0;
    while i < bytes.len() {
        let quantum = &bytes[i..(i + 4).min(bytes.len())];
        let mut n = 0u32;
        let mut count = 0;
        for (j, &(pos, c)) in quantum.iter().enumerate() {
            if c == b'=' {
                // padding: only in the last quantum, after at least two symbols
                if j < 2 {
                    return Err(err(pos));
                }
                if j == 2 && quantum.get(3).map(|x| x.1) != Some(b'=') {
                    return Err(err(quantum.get(3).map(|x| x.0).unwrap_or(s.len())));
                }
                if i + 4 < bytes.len() {
                    return Err(err(bytes[i + 4].0));
                }
                break;
            }
            let v = val(c).ok_or_else(|| err(pos))?;
            n |= v << (18 - 6 * j);
            count += 1;
        }
        if count < 4 && quantum.len() < 4 && quantum.iter().all(|x| x.1 != b'=') {
            return Err(err(s.len()));
        }
        let nbytes = match count {
            4 => 3,
            3 => 2,
            2 => 1,
            _ => return Err(err(quantum.last().map(|x| x.0).unwrap_or(0))),
        };
        out.extend_from_slice(&n.to_be_bytes()[1..1 + nbytes]);
        i += 4;
    }
    Ok(out)
}

/// Go's `pem.EncodeToMemory`.
pub(crate) fn pem_encode(kind: &str, der: &[u8]) -> String {
    let body = b64_encode(der);
    let mut out = format!("-----BEGIN {kind}-----\n");
    for line in body.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).unwrap_or_default());
        out.push('\n');
    }
    out.push_str(&format!("-----END {kind}-----\n"));
    out
}

/// The first PEM block: its type and bytes (`pem.Decode`, without headers support).
pub(crate) fn pem_decode(s: &str) -> Option<(String, Vec<u8>)> {
    let start = s.find("-----BEGIN ")?;
    let rest = &s[start + 11..];
    let end_type = rest.find("-----")?;
    let kind = rest[..end_type].to_string();
    if kind.contains('\n') {
        return None;
    }
    let body = &rest[end_type + 5..];
    let end_marker = format!("-----END {kind}-----");
    let end = body.find(&end_marker)?;
    let text: String = body[..end]
        .lines()
        .filter(|l| !l.contains(':'))
        .flat_map(|l| l.chars())
        .filter(|c| !c.is_whitespace())
        .collect();
    Some((kind, b64_decode(&text).ok()?))
}

// ---- derivePassword (Master Password algorithm) ----

fn derive_password(counter: u32, kind: &str, password: &str, user: &str, site: &str) -> String {
    let templates: &[&str] = match kind {
        "maximum" => &["anoxxxxxxxxxxxxxxxxx", "axxxxxxxxxxxxxxxxxno"],
        "long" => &[
            "CvcvnoCvcvCvcv",
            "CvcvCvcvnoCvcv",
            "CvcvCvcvCvcvno",
            "CvccnoCvcvCvcv",
            "CvccCvcvnoCvcv",
            "CvccCvcvCvcvno",
            "CvcvnoCvccCvcv",
            "CvcvCvccnoCvcv",
            "CvcvCvccCvcvno",
            "CvcvnoCvcvCvcc",
            "CvcvCvcvnoCvcc",
            "CvcvCvcvCvccno",
            "CvccnoCvccCvcv",
            "CvccCvccnoCvcv",
            "CvccCvccCvcvno",
            "CvcvnoCvccCvcc",
            "CvcvCvccnoCvcc",
            "CvcvCvccCvccno",
            "CvccnoCvcvCvcc",
            "CvccCvcvnoCvcc",
            "CvccCvcvCvccno",
        ],
        "medium" => &["CvcnoCvc", "CvcCvcno"],
        "short" => &["Cvcn"],
        "basic" => &["aaanaaan", "aannaaan", "aaannaaa"],
        "pin" => &["nnnn"],
        _ => return format!("cannot find password template {kind}"),
    };
    let chars = |c: u8| -> &'static [u8] {
        match c {
            b'V' => b"AEIOU",
            b'C' => b"BCDFGHJKLMNPQRSTVWXYZ",
            b'v' => b"aeiou",
            b'c' => b"bcdfghjklmnpqrstvwxyz",
            b'A' => b"AEIOUBCDFGHJKLMNPQRSTVWXYZ",
            b'a' => b"AEIOUaeiouBCDFGHJKLMNPQRSTVWXYZbcdfghjklmnpqrstvwxyz",
            b'n' => b"0123456789",
            b'o' => b"@&%?,=[]_:-+*$#!'^~;()/.",
            _ => b"AEIOUaeiouBCDFGHJKLMNPQRSTVWXYZbcdfghjklmnpqrstvwxyz0123456789!@#$%^&*()",
        }
    };
    const SEED: &str = "com.lyndir.masterpassword";
    let mut salt = SEED.as_bytes().to_vec();
    salt.extend_from_slice(&(user.len() as u32).to_be_bytes());
    salt.extend_from_slice(user.as_bytes());
    let mut key = [0u8; 64];
    let Ok(params) = scrypt::Params::new(15, 8, 2, 64) else {
        return "failed to derive password: invalid parameters".into();
    };
    if let Err(e) = scrypt::scrypt(password.as_bytes(), &salt, &params, &mut key) {
        return format!("failed to derive password: {e}");
    }
    let mut msg = SEED.as_bytes().to_vec();
    msg.extend_from_slice(&(site.len() as u32).to_be_bytes());
    msg.extend_from_slice(site.as_bytes());
    msg.extend_from_slice(&counter.to_be_bytes());
    use hmac::Mac;
    let Ok(mut mac) = hmac::Hmac::<Sha256>::new_from_slice(&key) else {
        return "failed to derive password: invalid key".into();
    };
    mac.update(&msg);
    let seed = mac.finalize().into_bytes();
    let temp = templates[seed[0] as usize % templates.len()].as_bytes();
    temp.iter()
        .enumerate()
        .map(|(i, &c)| {
            let set = chars(c);
            set[seed[i + 1] as usize % set.len()] as char
        })
        .collect()
}

// ---- AES-256-CBC ----

fn aes_key(password: &str) -> aes::Aes256 {
    use aes::cipher::KeyInit;
    let mut key = [0u8; 32];
    let p = password.as_bytes();
    let n = p.len().min(32);
    key[..n].copy_from_slice(&p[..n]);
    aes::Aes256::new(&key.into())
}

fn encrypt_aes(password: &str, plaintext: &str) -> String {
    use aes::cipher::BlockEncrypt;
    if plaintext.is_empty() {
        return String::new();
    }
    let cipher = aes_key(password);
    let mut content = plaintext.as_bytes().to_vec();
    let padding = 16 - content.len() % 16;
    content.extend(std::iter::repeat_n(padding as u8, padding));
    let mut out = vec![0u8; 16];
    OsRng.fill_bytes(&mut out);
    let mut prev: [u8; 16] = out[..16].try_into().unwrap_or_default();
    for block in content.chunks(16) {
        let mut b = [0u8; 16];
        for i in 0..16 {
            b[i] = block[i] ^ prev[i];
        }
        let mut ga = b.into();
        cipher.encrypt_block(&mut ga);
        prev = ga.into();
        out.extend_from_slice(&prev);
    }
    b64_encode(&out)
}

fn decrypt_aes(password: &str, crypt64: &str) -> Result<String, FuncError> {
    use aes::cipher::BlockDecrypt;
    if crypt64.is_empty() {
        return Ok(String::new());
    }
    let crypt = b64_decode(crypt64).map_err(FuncError::new)?;
    let cipher = aes_key(password);
    if crypt.len() < 16 {
        return Err(FuncError::new(format!(
            "runtime error: slice bounds out of range [:16] with capacity {}",
            crypt.len()
        )));
    }
    let (iv, body) = crypt.split_at(16);
    if body.len() % 16 != 0 {
        return Err(FuncError::new("crypto/cipher: input not full blocks"));
    }
    let mut prev: [u8; 16] = iv.try_into().unwrap_or_default();
    let mut out = Vec::with_capacity(body.len());
    for block in body.chunks(16) {
        let mut ga: [u8; 16] = block.try_into().unwrap_or_default();
        let c = ga;
        let mut g = ga.into();
        cipher.decrypt_block(&mut g);
        ga = g.into();
        for i in 0..16 {
            out.push(ga[i] ^ prev[i]);
        }
        prev = c;
    }
    let Some(&last) = out.last() else {
        return Err(FuncError::new("runtime error: index out of range [-1]"));
    };
    let keep = out.len() as i64 - last as i64;
    if keep < 0 {
        return Err(FuncError::new(format!(
            "runtime error: slice bounds out of range [:{keep}]"
        )));
    }
    out.truncate(keep as usize);
    Ok(String::from_utf8_lossy(&out).into_owned())
}

fn bcrypt_hash(input: &str) -> String {
    match bcrypt::hash_with_result(input, 10) {
        Ok(h) => h.format_for_version(bcrypt::Version::TwoA),
        Err(e) => format!("failed to encrypt string with bcrypt: {e}"),
    }
}

// ---- keys ----

/// A private key of one of the kinds Sprig generates or accepts.
enum Key {
    Rsa(Box<rsa::RsaPrivateKey>),
    Ec(p256::SecretKey),
    Ed(ed25519_dalek::SigningKey),
}

fn gen_rsa(bits: usize) -> Result<Key, String> {
    super::primes::rsa_key(bits).map(|k| Key::Rsa(Box::new(k)))
}

impl Key {
    /// `pemBlockForKey`.
    fn to_pem(&self) -> String {
        match self {
            Key::Rsa(k) => {
                use rsa::pkcs1::EncodeRsaPrivateKey;
                k.to_pkcs1_der()
                    .map(|d| pem_encode("RSA PRIVATE KEY", d.as_bytes()))
                    .unwrap_or_default()
            }
            Key::Ec(k) => {
                let pubkey = k.public_key();
                let point = p256::EncodedPoint::from(pubkey);
                let der = der::seq(&[
                    der::int_bytes(&[1]),
                    der::tlv(0x04, &k.to_bytes()),
                    der::tlv(0xa0, &der::oid(OID_P256)),
                    der::tlv(0xa1, &der::bit_string(point.as_bytes())),
                ]);
                pem_encode("EC PRIVATE KEY", &der)
            }
            Key::Ed(k) => {
                let der = der::seq(&[
                    der::int_bytes(&[0]),
                    der::seq(&[der::oid(OID_ED25519)]),
                    der::tlv(0x04, &der::tlv(0x04, &k.to_bytes())),
                ]);
                pem_encode("PRIVATE KEY", &der)
            }
        }
    }

    /// The DER `SubjectPublicKeyInfo`.
    fn spki(&self) -> Result<Vec<u8>, String> {
        use rsa::pkcs8::EncodePublicKey;
        let doc = match self {
            Key::Rsa(k) => k.to_public_key().to_public_key_der(),
            Key::Ec(k) => k.public_key().to_public_key_der(),
            Key::Ed(k) => k.verifying_key().to_public_key_der(),
        };
        doc.map(|d| d.as_bytes().to_vec())
            .map_err(|e| e.to_string())
    }

    /// The signature `AlgorithmIdentifier` Go picks for the key.
    fn sig_alg(&self) -> Vec<u8> {
        match self {
            Key::Rsa(_) => der::seq(&[der::oid(OID_SHA256_RSA), vec![0x05, 0x00]]),
            Key::Ec(_) => der::seq(&[der::oid(OID_ECDSA_SHA256)]),
            Key::Ed(_) => der::seq(&[der::oid(OID_ED25519)]),
        }
    }

    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, String> {
        match self {
            Key::Rsa(k) => {
                let digest = Sha256::digest(msg);
                k.sign(rsa::Pkcs1v15Sign::new::<Sha256>(), &digest)
                    .map_err(|e| e.to_string())
            }
            Key::Ec(k) => {
                use p256::ecdsa::signature::Signer;
                let sk = p256::ecdsa::SigningKey::from(k);
                let sig: p256::ecdsa::Signature = sk.sign(msg);
                Ok(sig.to_der().as_bytes().to_vec())
            }
            Key::Ed(k) => {
                use ed25519_dalek::Signer;
                Ok(k.sign(msg).to_bytes().to_vec())
            }
        }
    }
}

/// `parsePrivateKeyPEM`.
fn parse_private_key_pem(s: &str) -> Result<Key, String> {
    let (kind, bytes) = pem_decode(s).ok_or("no PEM data in input")?;
    if kind == "PRIVATE KEY" {
        use rsa::pkcs8::DecodePrivateKey;
        if let Ok(k) = rsa::RsaPrivateKey::from_pkcs8_der(&bytes) {
            return Ok(Key::Rsa(Box::new(k)));
        }
        if let Ok(k) = p256::SecretKey::from_pkcs8_der(&bytes) {
            return Ok(Key::Ec(k));
        }
        if let Ok(k) = ed25519_dalek::SigningKey::from_pkcs8_der(&bytes) {
            return Ok(Key::Ed(k));
        }
        return Err("decoding PEM as PKCS#8: x509: failed to parse private key".into());
    }
    let Some(prefix) = kind.strip_suffix(" PRIVATE KEY") else {
        return Err(format!("no private key data in PEM block of type {kind}"));
    };
    match prefix {
        "RSA" => {
            use rsa::pkcs1::DecodeRsaPrivateKey;
            rsa::RsaPrivateKey::from_pkcs1_der(&bytes)
                .map(|k| Key::Rsa(Box::new(k)))
                .map_err(|e| format!("parsing RSA private key from PEM: {e}"))
        }
        "EC" => p256::SecretKey::from_sec1_der(&bytes)
            .map(Key::Ec)
            .map_err(|e| format!("parsing EC private key from PEM: {e}")),
        _ => Err(format!("invalid private key type {kind}")),
    }
}

fn generate_private_key(kind: &str) -> String {
    let key = match kind {
        "" | "rsa" => gen_rsa(4096),
        "ecdsa" => Ok(Key::Ec(p256::SecretKey::random(&mut OsRng))),
        "ed25519" => Ok(Key::Ed(ed25519_dalek::SigningKey::generate(&mut OsRng))),
        "dsa" => Err("DSA keys are not supported".to_string()),
        _ => return format!("Unknown type {kind}"),
    };
    match key {
        Ok(k) => k.to_pem(),
        Err(e) => format!("failed to generate private key: {e}"),
    }
}

// ---- DER ----

const OID_SHA256_RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b];
const OID_ECDSA_SHA256: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02];
const OID_ED25519: &[u8] = &[0x2b, 0x65, 0x70];
const OID_P256: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
const OID_CN: &[u8] = &[0x55, 0x04, 0x03];
const OID_KEY_USAGE: &[u8] = &[0x55, 0x1d, 0x0f];
const OID_EXT_KEY_USAGE: &[u8] = &[0x55, 0x1d, 0x25];
const OID_BASIC_CONSTRAINTS: &[u8] = &[0x55, 0x1d, 0x13];
const OID_SKI: &[u8] = &[0x55, 0x1d, 0x0e];
const OID_AKI: &[u8] = &[0x55, 0x1d, 0x23];
const OID_SAN: &[u8] = &[0x55, 0x1d, 0x11];
const OID_SERVER_AUTH: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x01];
const OID_CLIENT_AUTH: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x02];

/// A minimal DER writer and reader.
pub(crate) mod der {
    /// One element: tag, content, the whole encoding, and what follows.
    pub type Element<'a> = (u8, &'a [u8], &'a [u8], &'a [u8]);

    /// Tag, length, value.
    pub fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        let n = content.len();
        if n < 0x80 {
            out.push(n as u8);
        } else {
            let bytes = n.to_be_bytes();
            let skip = bytes.iter().take_while(|&&b| b == 0).count();
            out.push(0x80 | (bytes.len() - skip) as u8);
            out.extend_from_slice(&bytes[skip..]);
        }
        out.extend_from_slice(content);
        out
    }

    /// A SEQUENCE of already-encoded elements.
    pub fn seq(items: &[Vec<u8>]) -> Vec<u8> {
        tlv(0x30, &items.concat())
    }

    /// An OBJECT IDENTIFIER from its encoded arcs.
    pub fn oid(arcs: &[u8]) -> Vec<u8> {
        tlv(0x06, arcs)
    }

    /// A non-negative INTEGER from big-endian magnitude bytes.
    pub fn int_bytes(mag: &[u8]) -> Vec<u8> {
        let skip = mag
            .iter()
            .take_while(|&&b| b == 0)
            .count()
            .min(mag.len().saturating_sub(1));
        let mut m = mag[skip..].to_vec();
        if m.is_empty() {
            m.push(0);
        }
        if m[0] & 0x80 != 0 {
            m.insert(0, 0);
        }
        tlv(0x02, &m)
    }

    /// A BIT STRING with no unused bits.
    pub fn bit_string(bytes: &[u8]) -> Vec<u8> {
        let mut c = vec![0u8];
        c.extend_from_slice(bytes);
        tlv(0x03, &c)
    }

    /// Reads one element: (tag, content, whole element, rest).
    pub fn read(b: &[u8]) -> Option<Element<'_>> {
        let tag = *b.first()?;
        let l0 = *b.get(1)? as usize;
        let (len, hdr) = if l0 < 0x80 {
            (l0, 2)
        } else {
            let n = l0 & 0x7f;
            if n == 0 || n > 4 {
                return None;
            }
            let mut len = 0usize;
            for i in 0..n {
                len = (len << 8) | *b.get(2 + i)? as usize;
            }
            (len, 2 + n)
        };
        let end = hdr.checked_add(len)?;
        if end > b.len() {
            return None;
        }
        Some((tag, &b[hdr..end], &b[..end], &b[end..]))
    }
}

/// What genSignedCert needs from the CA certificate: its subject and subject key id.
struct ParsedCert {
    subject: Vec<u8>,
    ski: Option<Vec<u8>>,
}

/// A structural parse of a DER certificate (`x509.ParseCertificate` stand-in).
fn parse_certificate(d: &[u8]) -> Result<ParsedCert, String> {
    let bad = || "x509: malformed certificate".to_string();
    let (tag, cert, _, rest) = der::read(d).ok_or_else(bad)?;
    if tag != 0x30 || !rest.is_empty() {
        return Err(bad());
    }
    let (tag, tbs, _, after_tbs) = der::read(cert).ok_or_else(bad)?;
    if tag != 0x30 {
        return Err(bad());
    }
    let (_, _, _, after_alg) = der::read(after_tbs).ok_or_else(bad)?;
    let (sig_tag, _, _, _) = der::read(after_alg).ok_or_else(bad)?;
    if sig_tag != 0x03 {
        return Err(bad());
    }
    let mut cur = tbs;
    let (tag, _, _, r) = der::read(cur).ok_or_else(bad)?;
    if tag == 0xa0 {
        cur = r;
    }
    // serial, signature, issuer, validity
    for _ in 0..4 {
        cur = der::read(cur).ok_or_else(bad)?.3;
    }
    let (tag, _, subject, r) = der::read(cur).ok_or_else(bad)?;
    if tag != 0x30 {
        return Err(bad());
    }
    let subject = subject.to_vec();
    let (tag, _, _, mut r) = der::read(r).ok_or_else(bad)?;
    if tag != 0x30 {
        return Err(bad());
    }
    let mut ski = None;
    while !r.is_empty() {
        let (tag, content, _, next) = der::read(r).ok_or_else(bad)?;
        r = next;
        if tag != 0xa3 {
            continue;
        }
        let (_, exts, _, _) = der::read(content).ok_or_else(bad)?;
        let mut e = exts;
        while !e.is_empty() {
            let (_, ext, _, next) = der::read(e).ok_or_else(bad)?;
            e = next;
            let (_, oid, _, mut v) = der::read(ext).ok_or_else(bad)?;
            if oid != OID_SKI {
                continue;
            }
            let (t, _, _, after) = der::read(v).ok_or_else(bad)?;
            if t == 0x01 {
                v = after;
            }
            let (_, octets, _, _) = der::read(v).ok_or_else(bad)?;
            let (_, id, _, _) = der::read(octets).ok_or_else(bad)?;
            ski = Some(id.to_vec());
        }
    }
    Ok(ParsedCert { subject, ski })
}

/// ASN.1 time as Go marshals it: UTCTime for 1950–2049, GeneralizedTime otherwise.
fn asn1_time(unix: i64) -> Result<Vec<u8>, String> {
    let t = super::date::GoTime::utc_at(unix);
    let year: i64 = t.format("2006").parse().unwrap_or(0);
    if (1950..2050).contains(&year) {
        Ok(der::tlv(0x17, t.format("060102150405Z").as_bytes()))
    } else if (0..=9999).contains(&year) {
        Ok(der::tlv(0x18, t.format("20060102150405Z").as_bytes()))
    } else {
        Err("asn1: structure error: cannot represent time as GeneralizedTime".into())
    }
}

fn name_cn(cn: &str) -> Vec<u8> {
    if cn.is_empty() {
        return der::seq(&[]);
    }
    let printable = cn
        .bytes()
        .all(|c| c.is_ascii_alphanumeric() || b" '()+,-./:=?".contains(&c));
    let value = der::tlv(if printable { 0x13 } else { 0x0c }, cn.as_bytes());
    der::seq(&[der::tlv(0x31, &der::seq(&[der::oid(OID_CN), value]))])
}

fn extension(oid: &[u8], critical: bool, value: Vec<u8>) -> Vec<u8> {
    let mut parts = vec![der::oid(oid)];
    if critical {
        parts.push(vec![0x01, 0x01, 0xff]);
    }
    parts.push(der::tlv(0x04, &value));
    der::seq(&parts)
}

/// Go's `net.ParseIP`, as bytes for a SAN (4 bytes for IPv4).
fn parse_ip(s: &str) -> Option<Vec<u8>> {
    if let Ok(v4) = s.parse::<std::net::Ipv4Addr>() {
        return Some(v4.octets().to_vec());
    }
    if s.contains(':')
        && let Ok(v6) = s.parse::<std::net::Ipv6Addr>()
    {
        return Some(match v6.to_ipv4_mapped() {
            Some(v4) => v4.octets().to_vec(),
            None => v6.octets().to_vec(),
        });
    }
    None
}

struct CertTemplate {
    cn: String,
    ips: Vec<Vec<u8>>,
    dns: Vec<String>,
    days: i64,
    is_ca: bool,
}

/// `getBaseCertTemplate`'s checks on the SAN lists.
fn cert_template(cn: &str, ips: &Value, dns: &Value, days: i64) -> Result<CertTemplate, String> {
    let mut t = CertTemplate {
        cn: cn.to_string(),
        ips: Vec::new(),
        dns: Vec::new(),
        days,
        is_ca: false,
    };
    if let Value::List(l) = ips {
        for ip in l.items() {
            let Some(s) = ip.as_str() else {
                return Err(format!(
                    "error parsing ip: {} is not a string",
                    ip.to_go_string()
                ));
            };
            t.ips
                .push(parse_ip(s).ok_or_else(|| format!("error parsing ip: {s}"))?);
        }
    }
    if let Value::List(l) = dns {
        for d in l.items() {
            let Some(s) = d.as_str() else {
                return Err(format!(
                    "error processing alternate dns name: {} is not a string",
                    d.to_go_string()
                ));
            };
            t.dns.push(s.to_string());
        }
    }
    Ok(t)
}

/// `x509.CreateCertificate` + PEM encoding of certificate and key (`getCertAndKey`).
fn create_certificate(
    t: &CertTemplate,
    key: &Key,
    parent: Option<(&ParsedCert, &Key)>,
) -> Result<(String, String), String> {
    let mut serial = [0u8; 16];
    OsRng.fill_bytes(&mut serial);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let valid_ns = 86_400_000_000_000i64.wrapping_mul(t.days);
    let not_after = now + valid_ns.div_euclid(1_000_000_000);
    let spki = key.spki()?;
    let subject = name_cn(&t.cn);
    let ski = if t.is_ca {
        // Go: the first 160 bits of SHA-256 of the subjectPublicKey bits
        let bits = der::read(&spki)
            .and_then(|(_, c, _, _)| der::read(c))
            .and_then(|(_, _, _, r)| der::read(r))
            .map(|(_, b, _, _)| b.get(1..).unwrap_or_default().to_vec())
            .unwrap_or_default();
        Some(Sha256::digest(&bits)[..20].to_vec())
    } else {
        None
    };
    let (issuer, signer) = match parent {
        Some((p, k)) => (p.subject.clone(), k),
        None => (subject.clone(), key),
    };
    let aki = match parent {
        Some((p, _)) if p.subject != subject => p.ski.clone(),
        _ => None,
    };
    let ku: u8 = if t.is_ca { 0xa4 } else { 0xa0 };
    let unused = if t.is_ca { 2 } else { 5 };
    let mut exts = vec![
        extension(OID_KEY_USAGE, true, der::tlv(0x03, &[unused, ku])),
        extension(
            OID_EXT_KEY_USAGE,
            false,
            der::seq(&[der::oid(OID_SERVER_AUTH), der::oid(OID_CLIENT_AUTH)]),
        ),
        extension(
            OID_BASIC_CONSTRAINTS,
            true,
            if t.is_ca {
                der::seq(&[vec![0x01, 0x01, 0xff]])
            } else {
                der::seq(&[])
            },
        ),
    ];
    if let Some(id) = &ski {
        exts.push(extension(OID_SKI, false, der::tlv(0x04, id)));
    }
    if let Some(id) = &aki {
        exts.push(extension(OID_AKI, false, der::seq(&[der::tlv(0x80, id)])));
    }
    if !t.dns.is_empty() || !t.ips.is_empty() {
        let mut names: Vec<Vec<u8>> = t.dns.iter().map(|d| der::tlv(0x82, d.as_bytes())).collect();
        names.extend(t.ips.iter().map(|ip| der::tlv(0x87, ip)));
        exts.push(extension(OID_SAN, t.cn.is_empty(), der::seq(&names)));
    }
    let tbs = der::seq(&[
        der::tlv(0xa0, &der::int_bytes(&[2])),
        der::int_bytes(&serial),
        signer.sig_alg(),
        issuer,
        der::seq(&[asn1_time(now)?, asn1_time(not_after)?]),
        subject,
        spki,
        der::tlv(0xa3, &der::seq(&exts)),
    ]);
    let sig = signer.sign(&tbs)?;
    let cert = der::seq(&[tbs, signer.sig_alg(), der::bit_string(&sig)]);
    Ok((pem_encode("CERTIFICATE", &cert), key.to_pem()))
}

fn cert_type() -> Arc<TypeInfo> {
    static T: OnceLock<Arc<TypeInfo>> = OnceLock::new();
    T.get_or_init(|| Arc::new(TypeInfo::new("sprig.certificate")))
        .clone()
}

fn cert_sig_type() -> Type {
    Type::Named("sprig.certificate".into(), Box::new(Type::Interface))
}

fn cert_value(cert: &str, key: &str) -> Value {
    Value::Struct(Arc::new(Struct::new(
        cert_type(),
        vec![
            ("Cert".into(), Value::from(cert)),
            ("Key".into(), Value::from(key)),
        ],
        false,
    )))
}

fn cert_fields(v: &Value) -> (String, String) {
    let Value::Struct(s) = v else {
        return Default::default();
    };
    let f = |k: &str| {
        s.field(k)
            .and_then(|x| x.as_str())
            .unwrap_or_default()
            .to_string()
    };
    (f("Cert"), f("Key"))
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or_default()
}

fn int(v: &Value) -> i64 {
    match v {
        Value::Int(i) | Value::Int64(i) => *i,
        _ => 0,
    }
}

fn generated(r: Result<(String, String), String>) -> R {
    r.map(|(c, k)| cert_value(&c, &k)).map_err(FuncError::new)
}

fn gen_key_or(pem: Option<&str>) -> Result<Key, String> {
    match pem {
        Some(p) => parse_private_key_pem(p).map_err(|e| format!("parsing private key: {e}")),
        None => gen_rsa(2048).map_err(|e| format!("error generating rsa key: {e}")),
    }
}

fn gen_ca(a: &[Value], pem: Option<&str>) -> R {
    let key = gen_key_or(pem).map_err(FuncError::new)?;
    let mut t =
        cert_template(s(&a[0]), &Value::Nil, &Value::Nil, int(&a[1])).map_err(FuncError::new)?;
    t.is_ca = true;
    generated(create_certificate(&t, &key, None))
}

fn gen_self_signed(a: &[Value], pem: Option<&str>) -> R {
    let key = gen_key_or(pem).map_err(FuncError::new)?;
    let t = cert_template(s(&a[0]), &a[1], &a[2], int(&a[3])).map_err(FuncError::new)?;
    generated(create_certificate(&t, &key, None))
}

fn gen_signed(a: &[Value], pem: Option<&str>) -> R {
    let key = gen_key_or(pem).map_err(FuncError::new)?;
    let (ca_cert, ca_key) = cert_fields(&a[4]);
    let (_, der_bytes) =
        pem_decode(&ca_cert).ok_or_else(|| FuncError::new("unable to decode certificate"))?;
    let parsed = parse_certificate(&der_bytes).map_err(|e| {
        FuncError::new(format!(
            "error parsing certificate: decodedSignerCert.Bytes: {e}"
        ))
    })?;
    let signer = parse_private_key_pem(&ca_key)
        .map_err(|e| FuncError::new(format!("error parsing private key: {e}")))?;
    let t = cert_template(s(&a[0]), &a[1], &a[2], int(&a[3])).map_err(FuncError::new)?;
    generated(create_certificate(&t, &key, Some((&parsed, &signer))))
}

fn build_custom_cert(b64cert: &str, b64key: &str) -> R {
    let cert =
        b64_decode(b64cert).map_err(|_| FuncError::new("unable to decode base64 certificate"))?;
    let key =
        b64_decode(b64key).map_err(|_| FuncError::new("unable to decode base64 private key"))?;
    let cert = String::from_utf8_lossy(&cert).into_owned();
    let key = String::from_utf8_lossy(&key).into_owned();
    let (_, der_bytes) =
        pem_decode(&cert).ok_or_else(|| FuncError::new("unable to decode certificate"))?;
    parse_certificate(&der_bytes).map_err(|e| {
        FuncError::new(format!("error parsing certificate: decodedCert.Bytes: {e}"))
    })?;
    parse_private_key_pem(&key)
        .map_err(|e| FuncError::new(format!("error parsing private key: {e}")))?;
    Ok(cert_value(&cert, &key))
}

/// Registers this group's functions.
pub fn register(funcs: &mut Funcs) {
    let st = || Type::String;
    let l = Type::list;
    funcs.add("sha1sum", Signature::new([st()], st()), |_, a| {
        Ok(Value::from(hex(&Sha1::digest(go_bytes(s(&a[0]))))))
    });
    funcs.add("sha256sum", Signature::new([st()], st()), |_, a| {
        Ok(Value::from(hex(&Sha256::digest(go_bytes(s(&a[0]))))))
    });
    funcs.add("sha512sum", Signature::new([st()], st()), |_, a| {
        Ok(Value::from(hex(&Sha512::digest(go_bytes(s(&a[0]))))))
    });
    funcs.add("adler32sum", Signature::new([st()], st()), |_, a| {
        Ok(Value::from(adler32(&go_bytes(s(&a[0]))).to_string()))
    });
    funcs.add("bcrypt", Signature::new([st()], st()), |_, a| {
        Ok(Value::from(bcrypt_hash(s(&a[0]))))
    });
    funcs.add("htpasswd", Signature::new([st(), st()], st()), |_, a| {
        let user = s(&a[0]);
        if user.contains(':') {
            return Ok(Value::from(format!("invalid username: {user}")));
        }
        Ok(Value::from(format!("{user}:{}", bcrypt_hash(s(&a[1])))))
    });
    funcs.add(
        "derivePassword",
        Signature::new([Type::Int, st(), st(), st(), st()], st()),
        |_, a| {
            Ok(Value::from(derive_password(
                int(&a[0]) as u32,
                s(&a[1]),
                s(&a[2]),
                s(&a[3]),
                s(&a[4]),
            )))
        },
    );
    funcs.add("encryptAES", Signature::new([st(), st()], st()), |_, a| {
        Ok(Value::from(encrypt_aes(s(&a[0]), s(&a[1]))))
    });
    funcs.add("decryptAES", Signature::new([st(), st()], st()), |_, a| {
        decrypt_aes(s(&a[0]), s(&a[1])).map(Value::from)
    });
    funcs.add("genPrivateKey", Signature::new([st()], st()), |_, a| {
        Ok(Value::from(generate_private_key(s(&a[0]))))
    });
    let cert = cert_sig_type;
    funcs.add(
        "genCA",
        Signature::new([st(), Type::Int], cert()),
        |_, a| gen_ca(&a, None),
    );
    funcs.add(
        "genCAWithKey",
        Signature::new([st(), Type::Int, st()], cert()),
        |_, a| gen_ca(&a, Some(s(&a[2]))),
    );
    funcs.add(
        "genSelfSignedCert",
        Signature::new([st(), l(), l(), Type::Int], cert()),
        |_, a| gen_self_signed(&a, None),
    );
    funcs.add(
        "genSelfSignedCertWithKey",
        Signature::new([st(), l(), l(), Type::Int, st()], cert()),
        |_, a| gen_self_signed(&a, Some(s(&a[4]))),
    );
    funcs.add(
        "genSignedCert",
        Signature::new([st(), l(), l(), Type::Int, cert()], cert()),
        |_, a| gen_signed(&a, None),
    );
    funcs.add(
        "genSignedCertWithKey",
        Signature::new([st(), l(), l(), Type::Int, cert(), st()], cert()),
        |_, a| gen_signed(&a, Some(s(&a[5]))),
    );
    funcs.add(
        "buildCustomCert",
        Signature::new([st(), st()], cert()),
        |_, a| build_custom_cert(s(&a[0]), s(&a[1])),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_go() {
        assert_eq!(b64_decode("aGk=").unwrap(), b"hi");
        assert_eq!(
            b64_decode("!!").unwrap_err(),
            "illegal base64 data at input byte 0"
        );
        assert!(b64_decode("aGk").is_err());
        assert_eq!(b64_encode(b"hello"), "aGVsbG8=");
    }

    #[test]
    fn aes_round_trip_and_bad_input() {
        let c = encrypt_aes("secretkey", "plaintext");
        assert_eq!(decrypt_aes("secretkey", &c).unwrap(), "plaintext");
        assert!(decrypt_aes("k", "aGk=").is_err());
        assert!(decrypt_aes("k", &b64_encode(&[0u8; 20])).is_err());
        assert!(decrypt_aes("k", &b64_encode(&[0u8; 16])).is_err());
    }

    #[test]
    fn hashes() {
        assert_eq!(adler32(b"hello"), 103_547_413);
        assert_eq!(derive_password(1, "pin", "pw", "u", "site"), "2977");
        let h = bcrypt_hash("x");
        assert!(h.starts_with("$2a$10$") && h.len() == 60);
        assert!(bcrypt::verify("x", &h).unwrap());
    }

    fn cert_der(pem: &str) -> Vec<u8> {
        let (kind, der) = pem_decode(pem).unwrap();
        assert_eq!(kind, "CERTIFICATE");
        der
    }

    fn verify_rsa(cert: &[u8], key: &Key) {
        let (_, c, _, _) = der::read(cert).unwrap();
        let (_, _, tbs, rest) = der::read(c).unwrap();
        let (_, _, _, rest) = der::read(rest).unwrap();
        let (_, sig, _, _) = der::read(rest).unwrap();
        let Key::Rsa(k) = key else { panic!("rsa key") };
        k.to_public_key()
            .verify(
                rsa::Pkcs1v15Sign::new::<Sha256>(),
                &Sha256::digest(tbs),
                &sig[1..],
            )
            .unwrap();
    }

    #[test]
    fn ca_and_signed_certificates() {
        let ca = gen_ca(&[Value::from("my-ca"), Value::Int(365)], None).unwrap();
        let (ca_cert, ca_key) = cert_fields(&ca);
        assert!(ca_key.starts_with("-----BEGIN RSA PRIVATE KEY-----\n"));
        let ca_k = parse_private_key_pem(&ca_key).unwrap();
        let Key::Rsa(k) = &ca_k else { panic!() };
        assert_eq!(rsa::traits::PublicKeyParts::size(&**k), 256);
        let ca_der = cert_der(&ca_cert);
        verify_rsa(&ca_der, &ca_k);
        let parsed = parse_certificate(&ca_der).unwrap();
        assert!(parsed.ski.is_some());
        assert!(parsed.subject.windows(5).any(|w| w == b"my-ca"));

        let leaf = gen_signed(
            &[
                Value::from("svc"),
                Value::list([Value::from("10.0.0.1")]),
                Value::list([Value::from("svc.ns"), Value::from("svc.ns.svc")]),
                Value::Int(30),
                ca,
            ],
            None,
        )
        .unwrap();
        let (leaf_cert, leaf_key) = cert_fields(&leaf);
        let leaf_der = cert_der(&leaf_cert);
        verify_rsa(&leaf_der, &ca_k);
        assert!(leaf_der.windows(6).any(|w| w == b"svc.ns"));
        assert!(leaf_der.windows(6).any(|w| w == [0x87, 4, 10, 0, 0, 1]));
        assert!(parse_private_key_pem(&leaf_key).is_ok());
        let custom = build_custom_cert(
            &b64_encode(leaf_cert.as_bytes()),
            &b64_encode(leaf_key.as_bytes()),
        );
        assert!(custom.is_ok());
        assert!(build_custom_cert("!!", "").is_err());

        let bad = gen_self_signed(
            &[
                Value::from("x"),
                Value::list([Value::from("nope")]),
                Value::Nil,
                Value::Int(1),
            ],
            None,
        );
        assert_eq!(bad.unwrap_err().to_string(), "error parsing ip: nope");
    }

    #[test]
    fn other_key_kinds() {
        for (kind, header) in [("ecdsa", "EC PRIVATE KEY"), ("ed25519", "PRIVATE KEY")] {
            let pem = generate_private_key(kind);
            assert!(
                pem.starts_with(&format!("-----BEGIN {header}-----\n")),
                "{pem}"
            );
            let key = parse_private_key_pem(&pem).unwrap();
            let t = cert_template("k", &Value::Nil, &Value::Nil, 1).unwrap();
            assert!(create_certificate(&t, &key, None).is_ok());
        }
        assert_eq!(generate_private_key("x"), "Unknown type x");
    }
}
