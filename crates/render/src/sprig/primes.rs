//! RSA key generation for `genPrivateKey`, `genCA`, `genSelfSignedCert` and `genSignedCert`:
//! keys of the form Go's `rsa.GenerateKey` makes (two primes of half the size, their top two
//! bits set so the modulus has exactly the bits asked for, `e` = 65537), found faster than
//! the `rsa` crate's generator finds them. That one sieves candidates by the primes up to
//! 53 only and then runs 20 Miller-Rabin rounds and a Lucas test on the prime; here the
//! candidates are sieved by every prime below 2^14 and the prime gets at least the rounds of
//! FIPS 186-5's table B.1, so a 2048-bit key takes about a third of the modular
//! exponentiations.

use std::sync::atomic::{AtomicBool, Ordering};

use num_bigint::BigUint;
use rand_core::{OsRng, RngCore};

/// Odd primes below 2^14, the sieve.
fn small_primes() -> &'static [u32] {
    static PRIMES: std::sync::OnceLock<Vec<u32>> = std::sync::OnceLock::new();
    PRIMES.get_or_init(|| {
        const LIMIT: usize = 1 << 14;
        let mut composite = vec![false; LIMIT];
        let mut out = Vec::new();
        for n in (3..LIMIT).step_by(2) {
            if !composite[n] {
                out.push(n as u32);
                // odd multiples only: the even ones are never looked at
                for m in (n * n..LIMIT).step_by(2 * n) {
                    composite[m] = true;
                }
            }
        }
        out
    })
}

/// `n mod q`.
fn residue(n: &BigUint, q: u32) -> u32 {
    n.to_u64_digits().iter().rev().fold(0u64, |r, &limb| {
        ((u128::from(r) << 64 | u128::from(limb)) % u128::from(q)) as u64
    }) as u32
}

/// A uniformly random number of `bits` bits at most.
fn random_bits(bits: u64) -> BigUint {
    let mut bytes = vec![0u8; bits.div_ceil(8) as usize];
    OsRng.fill_bytes(&mut bytes);
    let extra = bytes.len() as u64 * 8 - bits;
    bytes[0] &= 0xff >> extra;
    BigUint::from_bytes_be(&bytes)
}

/// Miller-Rabin rounds for a prime of `bits` bits: at least FIPS 186-5 table B.1's (error
/// below 2^-100 for random candidates), and many more for sizes the table does not list.
fn rounds(bits: u64) -> usize {
    match bits {
        1024.. => 5,
        512.. => 7,
        _ => 20,
    }
}

/// Whether odd `n` > 3 passes `rounds` Miller-Rabin rounds with random bases.
fn miller_rabin(n: &BigUint, rounds: usize) -> bool {
    let one = BigUint::from(1u8);
    let n_minus_1 = n - &one;
    let s = n_minus_1.trailing_zeros().unwrap_or(0);
    let d = &n_minus_1 >> s;
    let span = n - BigUint::from(3u8);
    'round: for _ in 0..rounds {
        // a base in [2, n-2]
        let a = random_bits(n.bits()) % &span + BigUint::from(2u8);
        let mut x = a.modpow(&d, n);
        if x == one || x == n_minus_1 {
            continue;
        }
        for _ in 1..s {
            x = &x * &x % n;
            if x == n_minus_1 {
                continue 'round;
            }
            if x == one {
                return false;
            }
        }
        return false;
    }
    true
}

/// A random prime of exactly `bits` bits (at least 16) with its top two bits set, and
/// `p - 1` prime to 65537. Searched for from two random starts at once on two cores, the
/// first found taken: a search's length varies a lot from one start to the next, and the
/// shorter of two takes about half as long on average.
fn random_prime(bits: u64) -> BigUint {
    let found = AtomicBool::new(false);
    let search = || {
        let p = search_prime(bits, &found);
        if p.is_some() {
            found.store(true, Ordering::Relaxed);
        }
        p
    };
    let two_cores = ferry_gotmpl::cores() > 1;
    std::thread::scope(|scope| {
        let theirs = two_cores
            .then(|| {
                std::thread::Builder::new()
                    .name("ferry-primes".into())
                    .spawn_scoped(scope, search)
                    .ok()
            })
            .flatten();
        let mine = search();
        let theirs = theirs.and_then(|t| t.join().ok().flatten());
        // one of them found one: the other stops only once `found` is set
        mine.or(theirs).unwrap_or_else(|| loop_until_found(bits))
    })
}

/// A search that is not stopped (for the case both racing searches failed to return one,
/// which only a panicked helper can cause).
fn loop_until_found(bits: u64) -> BigUint {
    let never = AtomicBool::new(false);
    loop {
        if let Some(p) = search_prime(bits, &never) {
            return p;
        }
    }
}

/// One search from a random start; `None` once `stop` is set.
fn search_prime(bits: u64, stop: &AtomicBool) -> Option<BigUint> {
    let primes = small_primes();
    while !stop.load(Ordering::Relaxed) {
        let mut p = random_bits(bits);
        p |= BigUint::from(3u8) << (bits - 2);
        p |= BigUint::from(1u8);
        let residues: Vec<u32> = primes.iter().map(|&q| residue(&p, q)).collect();
        // the next odd numbers up from p no small prime divides, tested in turn
        let mut delta = 0u32;
        while delta < 1 << 20 {
            let sieved = primes
                .iter()
                .zip(&residues)
                .all(|(&q, &r)| (u64::from(r) + u64::from(delta)) % u64::from(q) != 0);
            if sieved {
                if stop.load(Ordering::Relaxed) {
                    return None;
                }
                let candidate = &p + delta;
                if candidate.bits() != bits {
                    break;
                }
                if residue(&candidate, 65537) != 1 && miller_rabin(&candidate, rounds(bits)) {
                    return Some(candidate);
                }
            }
            delta += 2;
        }
    }
    None
}

/// A new RSA key of `bits` bits (Sprig asks for 2048 or 4096).
pub(crate) fn rsa_key(bits: usize) -> Result<rsa::RsaPrivateKey, String> {
    if bits < 32 {
        return Err(format!("crypto/rsa: {bits}-bit keys are too small"));
    }
    let to_rsa = |n: &BigUint| rsa::BigUint::from_bytes_be(&n.to_bytes_be());
    let p_bits = bits as u64 / 2;
    let q_bits = bits as u64 - p_bits;
    loop {
        let p = random_prime(p_bits);
        let q = random_prime(q_bits);
        if p == q {
            continue;
        }
        return rsa::RsaPrivateKey::from_primes(vec![to_rsa(&p), to_rsa(&q)], 65537u32.into())
            .map_err(|e| e.to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sieve_holds_the_odd_primes_below_its_limit() {
        let p = small_primes();
        assert_eq!(&p[..6], [3, 5, 7, 11, 13, 17]);
        assert_eq!(p.last(), Some(&16381));
        assert_eq!(p.len(), 1900 - 1);
    }

    #[test]
    fn miller_rabin_tells_primes_from_composites() {
        // 2^127 - 1 and 2^89 - 1 are prime; 561 and 2^128 + 1 fool weaker tests
        let m127 = (BigUint::from(1u8) << 127u32) - 1u8;
        let m89 = (BigUint::from(1u8) << 89u32) - 1u8;
        assert!(miller_rabin(&m127, 20));
        assert!(miller_rabin(&m89, 20));
        assert!(!miller_rabin(&BigUint::from(561u32), 20));
        assert!(!miller_rabin(&((BigUint::from(1u8) << 128u32) + 1u8), 20));
        assert!(!miller_rabin(&(&m127 * &m89), 20));
        assert_eq!(residue(&m127, 7), (((1u128 << 127) - 1) % 7) as u32);
    }

    #[test]
    fn primes_have_the_size_asked_and_its_top_two_bits() {
        for bits in [64u64, 100, 512] {
            let p = random_prime(bits);
            assert_eq!(p.bits(), bits);
            assert!(p.bit(bits - 2), "top two bits set");
            assert!(miller_rabin(&p, 30));
            assert_ne!(residue(&p, 65537), 1);
        }
    }

    #[test]
    fn keys_have_the_size_asked_and_work() {
        use rsa::traits::PublicKeyParts;
        use rsa::{Pkcs1v15Encrypt, RsaPublicKey};
        for bits in [1024usize, 2048] {
            let k = rsa_key(bits).expect("a key");
            assert_eq!(k.n().bits(), bits);
            assert_eq!(k.e(), &rsa::BigUint::from(65537u32));
            k.validate().expect("valid");
            let public = RsaPublicKey::from(&k);
            let sealed = public
                .encrypt(&mut OsRng, Pkcs1v15Encrypt, b"ferry")
                .expect("encrypts");
            assert_eq!(
                k.decrypt(Pkcs1v15Encrypt, &sealed).expect("decrypts"),
                b"ferry"
            );
        }
    }
}
