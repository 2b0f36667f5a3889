//! Secrets at rest: API token keys are stored as SHA-256 hashes (they are long random strings,
//! so a fast hash is enough and keeps every request cheap); Plex tokens and token keys that must
//! be shown again are encrypted with ChaCha20-Poly1305 under a key derived from the secret key
//! with HKDF-SHA256 (`v2:` blobs; `v1:` blobs, written before under a key that was a bare SHA-256
//! of the secret key, stay readable); passwords use argon2.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use base64::engine::general_purpose::STANDARD_NO_PAD as B64;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use rand::RngCore;
use sha2::{Digest, Sha256};

/// The current format: the key comes from HKDF.
const PREFIX: &str = "v2:";
/// The first format: the key was SHA-256("plexid:encryption:" + secret key). Read only.
const LEGACY_PREFIX: &str = "v1:";

/// Encrypts and decrypts stored secrets.
#[derive(Clone)]
pub struct Secrets {
    cipher: ChaCha20Poly1305,
    legacy: ChaCha20Poly1305,
    /// Keys the pairwise subject identifiers of OpenID Connect (so they cannot be computed from
    /// a user's UUID without the secret key).
    subject_key: [u8; 32],
    /// Keys the HMAC of device cookies (a browser someone signed in from before).
    device_key: [u8; 32],
}

#[derive(Debug, thiserror::Error)]
#[error("a stored secret could not be decrypted (was PLEXID_SECRET_KEY changed?)")]
pub struct DecryptError;

impl Secrets {
    pub fn new(secret_key: &str) -> Self {
        let mut key = [0u8; 32];
        hkdf::Hkdf::<Sha256>::new(Some(b"plexid"), secret_key.as_bytes())
            .expand(b"plexid:encryption:v2", &mut key)
            .expect("32 bytes is a valid HKDF-SHA256 output length");
        let legacy = Sha256::new().chain_update(b"plexid:encryption:").chain_update(secret_key.as_bytes()).finalize();
        let derive = |info: &[u8]| {
            let mut out = [0u8; 32];
            hkdf::Hkdf::<Sha256>::new(Some(b"plexid"), secret_key.as_bytes())
                .expand(info, &mut out)
                .expect("32 bytes is a valid HKDF-SHA256 output length");
            out
        };
        Secrets {
            cipher: ChaCha20Poly1305::new(Key::from_slice(&key)),
            legacy: ChaCha20Poly1305::new(Key::from_slice(&legacy)),
            subject_key: derive(b"plexid:oidc-subject:v1"),
            device_key: derive(b"plexid:device-cookie:v1"),
        }
    }

    /// A device cookie's value: this browser signed in as `user` at `issued` (Unix seconds),
    /// with an HMAC-SHA256 tag, so it cannot be made without the secret key.
    pub fn sign_device(&self, user: i64, issued: i64) -> String {
        use hmac::Mac;
        let payload = format!("{user}.{issued}");
        format!("{payload}.{}", B64URL.encode(self.device_mac(&payload).finalize().into_bytes()))
    }

    /// The (user, issued) a device cookie vouches for, if its tag is right.
    pub fn verify_device(&self, value: &str) -> Option<(i64, i64)> {
        use hmac::Mac;
        let (payload, tag) = value.rsplit_once('.')?;
        let tag = B64URL.decode(tag).ok()?;
        self.device_mac(payload).verify_slice(&tag).ok()?;
        let (user, issued) = payload.split_once('.')?;
        Some((user.parse().ok()?, issued.parse().ok()?))
    }

    fn device_mac(&self, payload: &str) -> hmac::Hmac<Sha256> {
        use hmac::Mac;
        let mut mac = <hmac::Hmac<Sha256> as Mac>::new_from_slice(&self.device_key).expect("HMAC takes any key length");
        mac.update(payload.as_bytes());
        mac
    }

    /// A stable subject identifier for one user at one provider (`sub_mode` `hashed_user_id`).
    pub fn subject(&self, provider: i64, user_uuid: &str) -> String {
        let digest = Sha256::new()
            .chain_update(self.subject_key)
            .chain_update(provider.to_be_bytes())
            .chain_update(user_uuid.as_bytes())
            .finalize();
        hex::encode(digest)
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
        let (cipher, encoded) = match (stored.strip_prefix(PREFIX), stored.strip_prefix(LEGACY_PREFIX)) {
            (Some(encoded), _) => (&self.cipher, encoded),
            (None, Some(encoded)) => (&self.legacy, encoded),
            (None, None) => return Err(DecryptError),
        };
        let blob = B64.decode(encoded).map_err(|_| DecryptError)?;
        if blob.len() < 12 {
            return Err(DecryptError);
        }
        let (nonce, ciphertext) = blob.split_at(12);
        let plain = cipher.decrypt(Nonce::from_slice(nonce), ciphertext).map_err(|_| DecryptError)?;
        String::from_utf8(plain).map_err(|_| DecryptError)
    }
}

/// The stored form of an API token key.
pub fn hash_token(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
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

/// Writes `key` to a new file only its owner may read (it must not exist yet).
pub fn write_secret_file(path: &std::path::Path, key: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
    writeln!(file, "{key}")?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_cookies_cannot_be_forged() {
        let secrets = Secrets::new("key");
        let value = secrets.sign_device(42, 1_700_000_000);
        assert_eq!(secrets.verify_device(&value), Some((42, 1_700_000_000)));
        assert_eq!(Secrets::new("other").verify_device(&value), None, "another secret key");
        let tag = value.rsplit_once('.').unwrap().1;
        assert_eq!(secrets.verify_device(&format!("43.1700000000.{tag}")), None, "another user");
        assert_eq!(secrets.verify_device("garbage"), None);
    }

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
    fn secrets_stored_under_the_old_derivation_stay_readable() {
        let secrets = Secrets::new("k");
        // A v1 blob as the earlier code wrote it: the key was SHA-256("plexid:encryption:" + key).
        let old_key = Sha256::new().chain_update(b"plexid:encryption:").chain_update(b"k").finalize();
        let nonce = [7u8; 12];
        let ciphertext = ChaCha20Poly1305::new(Key::from_slice(&old_key))
            .encrypt(Nonce::from_slice(&nonce), b"old".as_ref())
            .unwrap();
        let stored = format!("v1:{}", B64.encode([nonce.as_slice(), &ciphertext].concat()));
        assert_eq!(secrets.decrypt(&stored).unwrap(), "old");
        assert!(secrets.encrypt("new").starts_with("v2:"), "new secrets use the HKDF key");
        // The HKDF key is not the old one.
        let v2 = secrets.encrypt("x");
        let blob = B64.decode(v2.strip_prefix("v2:").unwrap()).unwrap();
        let (n, c) = blob.split_at(12);
        assert!(ChaCha20Poly1305::new(Key::from_slice(&old_key)).decrypt(Nonce::from_slice(n), c).is_err());
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
