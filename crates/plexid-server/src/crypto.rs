//! Secrets at rest: API token keys are stored as SHA-256 hashes (they are long random strings,
//! so a fast hash is enough and keeps every request cheap); Plex tokens and token keys that must
//! be shown again are encrypted with ChaCha20-Poly1305 under a key derived from the secret key;
//! passwords use argon2.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use base64::engine::general_purpose::STANDARD_NO_PAD as B64;
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use rand::RngCore;
use sha2::{Digest, Sha256};

const PREFIX: &str = "v1:";

/// Encrypts and decrypts stored secrets.
#[derive(Clone)]
pub struct Secrets {
    cipher: ChaCha20Poly1305,
}

#[derive(Debug, thiserror::Error)]
#[error("a stored secret could not be decrypted (was PLEXID_SECRET_KEY changed?)")]
pub struct DecryptError;

impl Secrets {
    pub fn new(secret_key: &str) -> Self {
        let key = Sha256::new().chain_update(b"plexid:encryption:").chain_update(secret_key.as_bytes()).finalize();
        Secrets { cipher: ChaCha20Poly1305::new(Key::from_slice(&key)) }
    }

    pub fn encrypt(&self, plaintext: &str) -> String {
        let mut nonce = [0u8; 12];
        rand::thread_rng().fill_bytes(&mut nonce);
        let Ok(ciphertext) = self.cipher.encrypt(Nonce::from_slice(&nonce), plaintext.as_bytes()) else {
            unreachable!("ChaCha20-Poly1305 encryption cannot fail for in-memory input");
        };
        let mut blob = nonce.to_vec();
        blob.extend_from_slice(&ciphertext);
        format!("{PREFIX}{}", B64.encode(blob))
    }

    pub fn decrypt(&self, stored: &str) -> Result<String, DecryptError> {
        let blob = stored.strip_prefix(PREFIX).and_then(|b| B64.decode(b).ok()).ok_or(DecryptError)?;
        if blob.len() < 12 {
            return Err(DecryptError);
        }
        let (nonce, ciphertext) = blob.split_at(12);
        let plain = self.cipher.decrypt(Nonce::from_slice(nonce), ciphertext).map_err(|_| DecryptError)?;
        String::from_utf8(plain).map_err(|_| DecryptError)
    }
}

/// The stored form of an API token key.
pub fn hash_token(key: &str) -> String {
    let digest = Sha256::digest(key.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// A new random API token key or secret.
pub fn generate_key() -> String {
    plexid_core::source::random_alphanumeric(64)
}

pub fn hash_password(password: &str) -> String {
    let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
    match Argon2::default().hash_password(password.as_bytes(), &salt) {
        Ok(hash) => hash.to_string(),
        Err(error) => unreachable!("argon2 with default parameters cannot fail: {error}"),
    }
}

pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_tamper_detection() {
        let secrets = Secrets::new("k");
        let stored = secrets.encrypt("plex-token");
        assert!(!stored.contains("plex-token"));
        assert_ne!(stored, secrets.encrypt("plex-token"), "nonces differ");
        assert_eq!(secrets.decrypt(&stored).unwrap(), "plex-token");
        assert!(Secrets::new("other").decrypt(&stored).is_err());
        assert!(secrets.decrypt("v1:AAAA").is_err());
        assert!(secrets.decrypt("plain").is_err());
    }

    #[test]
    fn token_hashes_are_stable_hex() {
        assert_eq!(hash_token("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }

    #[test]
    fn passwords() {
        let hash = hash_password("hunter2");
        assert!(verify_password("hunter2", &hash));
        assert!(!verify_password("hunter3", &hash));
        assert!(!verify_password("x", "not a hash"));
    }
}
