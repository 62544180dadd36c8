//! The master key and what it protects: the token signing key and stored upstream
//! credentials are sealed with AES-256-GCM before they reach the state file, so a copy of the
//! file (a backup, a leaked volume) holds no usable secret without the key.
//!
//! The key comes from `WARDEN_MASTER_KEY` (64 hex digits) when set, else from `master.key`
//! next to the state file, created on first use with mode 0600.

use std::io::Write;
use std::path::Path;

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};

use crate::{Error, Result};

/// 32 bytes that seal and open secrets.
pub struct MasterKey(LessSafeKey);

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(..)")
    }
}

impl MasterKey {
    /// A key from 64 hex digits.
    pub fn from_hex(text: &str) -> Result<Self> {
        let bytes = hex::decode(text.trim())
            .map_err(|_| Error::Crypto("the master key must be 64 hex digits".to_owned()))?;
        Self::from_bytes(&bytes)
    }

    fn from_bytes(bytes: &[u8]) -> Result<Self> {
        if bytes.len() != 32 {
            return Err(Error::Crypto(
                "the master key must be 32 bytes (64 hex digits)".to_owned(),
            ));
        }
        let key = UnboundKey::new(&AES_256_GCM, bytes)
            .map_err(|_| Error::Crypto("the master key was rejected".to_owned()))?;
        Ok(Self(LessSafeKey::new(key)))
    }

    /// Reads the key file, or creates it (mode 0600, never overwritten) when absent.
    pub fn load_or_create(path: &Path) -> Result<Self> {
        match std::fs::read_to_string(path) {
            Ok(text) => Self::from_hex(&text)
                .map_err(|e| Error::Crypto(format!("master key file `{}`: {e}", path.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let bytes = random::<32>()?;
                if let Some(dir) = path.parent() {
                    warden_types::file::create_private_dir(dir).map_err(|e| io_error(dir, &e))?;
                }
                let mut options = std::fs::OpenOptions::new();
                options.write(true).create_new(true);
                #[cfg(unix)]
                std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
                match options.open(path) {
                    Ok(mut file) => {
                        file.write_all(hex::encode(bytes).as_bytes())
                            .and_then(|()| file.sync_all())
                            .map_err(|e| io_error(path, &e))?;
                        Self::from_bytes(&bytes)
                    }
                    // Another process created it first: use theirs.
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                        Self::load_or_create(path)
                    }
                    Err(e) => Err(io_error(path, &e)),
                }
            }
            Err(e) => Err(io_error(path, &e)),
        }
    }

    /// Seals `plain`; `context` (what the secret is) must be given again to open it, so a
    /// sealed value cannot be moved to another row.
    pub fn seal(&self, context: &str, plain: &[u8]) -> Result<Vec<u8>> {
        let nonce_bytes = random::<NONCE_LEN>()?;
        let mut buf = plain.to_vec();
        self.0
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce_bytes),
                Aad::from(context.as_bytes()),
                &mut buf,
            )
            .map_err(|_| Error::Crypto("sealing failed".to_owned()))?;
        let mut out = nonce_bytes.to_vec();
        out.extend_from_slice(&buf);
        Ok(out)
    }

    /// Opens what [`MasterKey::seal`] sealed under the same `context`.
    pub fn open(&self, context: &str, sealed: &[u8]) -> Result<Vec<u8>> {
        let wrong = || {
            Error::Crypto(format!(
                "cannot decrypt `{context}`: the master key differs from the one that sealed it, or the state file is damaged"
            ))
        };
        let (nonce, body) = sealed.split_at_checked(NONCE_LEN).ok_or_else(wrong)?;
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| wrong())?;
        let mut buf = body.to_vec();
        let plain = self
            .0
            .open_in_place(nonce, Aad::from(context.as_bytes()), &mut buf)
            .map_err(|_| wrong())?;
        Ok(plain.to_vec())
    }
}

/// `N` random bytes from the system generator.
pub(crate) fn random<const N: usize>() -> Result<[u8; N]> {
    let mut out = [0u8; N];
    SystemRandom::new()
        .fill(&mut out)
        .map_err(|_| Error::Crypto("the system random generator failed".to_owned()))?;
    Ok(out)
}

fn io_error(path: &Path, e: &std::io::Error) -> Error {
    Error::Crypto(format!("`{}`: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_round_trips_and_binds_context() {
        let key = MasterKey::from_hex(&"11".repeat(32)).unwrap();
        let sealed = key.seal("secret:a", b"hunter2").unwrap();
        assert!(!sealed.windows(7).any(|w| w == b"hunter2"));
        assert_eq!(key.open("secret:a", &sealed).unwrap(), b"hunter2");
        assert!(key.open("secret:b", &sealed).is_err());
        let other = MasterKey::from_hex(&"22".repeat(32)).unwrap();
        assert!(other.open("secret:a", &sealed).is_err());
        assert!(key.open("secret:a", &sealed[..5]).is_err());
    }

    #[test]
    fn key_file_is_created_once_and_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("master.key");
        let a = MasterKey::load_or_create(&path).unwrap();
        let sealed = a.seal("x", b"v").unwrap();
        let b = MasterKey::load_or_create(&path).unwrap();
        assert_eq!(b.open("x", &sealed).unwrap(), b"v");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(MasterKey::from_hex("abcd").is_err());
    }
}
