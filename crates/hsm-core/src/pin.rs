//! [`Pin`]: a PIN that is zeroized on drop and never printed.

use std::fmt;
use std::io::Read;
use std::path::Path;

use zeroize::{Zeroize, Zeroizing};

use crate::error::{Error, Result};

/// Longest PIN read from a pin-source file; a longer file is refused rather than truncated.
const MAX_PIN_FILE: u64 = 4096;

/// A user or security-officer PIN.
///
/// The bytes are zeroized when the value is dropped. `Debug` prints `Pin(***)`; there is no
/// `Display`, and no error message of this crate ever contains a PIN.
///
/// ```
/// use hsm_core::Pin;
///
/// let pin = Pin::new("1234");
/// assert_eq!(format!("{pin:?}"), "Pin(***)");
/// ```
#[derive(Clone)]
pub struct Pin(String);

impl Pin {
    /// A PIN from its text.
    pub fn new(pin: impl Into<String>) -> Self {
        Pin(pin.into())
    }

    /// Reads a PIN from an RFC 7512 `pin-source`: `file:/path`, `file:///path` or a plain
    /// absolute path. One trailing line break (`\n` or `\r\n`) is removed; an empty file, or one
    /// over 4 KiB, is refused.
    ///
    /// Errors are [`Error::Config`], naming the path (never the content).
    pub fn from_source(source: &str) -> Result<Self> {
        let path = pin_source_path(source)?;
        Self::from_file(Path::new(path))
    }

    /// Reads a PIN from a file, as [`Pin::from_source`] does.
    pub fn from_file(path: &Path) -> Result<Self> {
        let cannot = |why: String| Error::Config {
            reason: format!("cannot read the PIN from {}: {why}", path.display()),
        };
        let file = std::fs::File::open(path).map_err(|e| cannot(e.to_string()))?;
        let mut bytes = Zeroizing::new(Vec::new());
        file.take(MAX_PIN_FILE + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| cannot(e.to_string()))?;
        if bytes.len() as u64 > MAX_PIN_FILE {
            return Err(cannot(format!(
                "the file is longer than {MAX_PIN_FILE} bytes"
            )));
        }
        let mut end = bytes.len();
        if bytes[..end].ends_with(b"\n") {
            end -= 1;
            if bytes[..end].ends_with(b"\r") {
                end -= 1;
            }
        }
        if end == 0 {
            return Err(cannot("the file is empty".to_owned()));
        }
        let text = std::str::from_utf8(&bytes[..end])
            .map_err(|_| cannot("the PIN is not UTF-8".to_owned()))?;
        Ok(Pin(text.to_owned()))
    }

    /// The PIN text. Named loudly so that every use is easy to find in review.
    pub fn expose_secret(&self) -> &str {
        &self.0
    }

    /// The PIN as `cryptoki` takes it (a copy, zeroized when dropped).
    pub(crate) fn to_auth_pin(&self) -> cryptoki::types::AuthPin {
        cryptoki::types::AuthPin::from(self.0.as_str())
    }
}

/// The path named by a pin-source (`file:/p`, `file:///p`, `file://localhost/p` or `/p`).
fn pin_source_path(source: &str) -> Result<&str> {
    let path = if let Some(rest) = source.strip_prefix("file://") {
        // file:///p or file://localhost/p: an authority, then an absolute path.
        let slash = rest.find('/').unwrap_or(rest.len());
        match &rest[..slash] {
            "" | "localhost" => &rest[slash..],
            host => {
                return Err(Error::Config {
                    reason: format!(
                        "pin-source names a remote host ({host}); only local files are read"
                    ),
                });
            }
        }
    } else if let Some(rest) = source.strip_prefix("file:") {
        rest
    } else {
        source
    };
    if path.starts_with('/') {
        Ok(path)
    } else {
        Err(Error::Config {
            reason: format!(
                "unsupported pin-source {source:?}: expected file:/absolute/path or an absolute path"
            ),
        })
    }
}

impl fmt::Debug for Pin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Pin(***)")
    }
}

/// Compares without an early exit on the first differing byte (the length is not hidden).
impl PartialEq for Pin {
    fn eq(&self, other: &Pin) -> bool {
        let (a, b) = (self.0.as_bytes(), other.0.as_bytes());
        a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }
}

impl Eq for Pin {}

impl Drop for Pin {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl From<&str> for Pin {
    fn from(pin: &str) -> Self {
        Pin::new(pin)
    }
}

impl From<String> for Pin {
    fn from(pin: String) -> Self {
        Pin(pin)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_the_pin() {
        let pin = Pin::new("secret-1234");
        assert_eq!(format!("{pin:?}"), "Pin(***)");
        assert_eq!(format!("{:?}", Some(pin.clone())), "Some(Pin(***))");
        assert_eq!(pin.expose_secret(), "secret-1234");
        assert_eq!(pin, Pin::new("secret-1234"));
        assert_ne!(pin, Pin::new("secret-1235"));
        assert_ne!(pin, Pin::new("secret-123"));
    }

    #[test]
    fn pin_source_forms() {
        assert_eq!(pin_source_path("file:/etc/pin").ok(), Some("/etc/pin"));
        assert_eq!(pin_source_path("file:///etc/pin").ok(), Some("/etc/pin"));
        assert_eq!(
            pin_source_path("file://localhost/etc/pin").ok(),
            Some("/etc/pin")
        );
        assert_eq!(pin_source_path("/etc/pin").ok(), Some("/etc/pin"));
        assert!(matches!(
            pin_source_path("file://evil.example/etc/pin"),
            Err(Error::Config { .. })
        ));
        assert!(matches!(
            pin_source_path("relative/pin"),
            Err(Error::Config { .. })
        ));
        assert!(matches!(
            pin_source_path("|/bin/echo 1234"),
            Err(Error::Config { .. })
        ));
        assert!(matches!(pin_source_path(""), Err(Error::Config { .. })));
    }

    #[test]
    fn reads_a_pin_file() {
        let dir = std::env::temp_dir().join(format!("hsm-core-pin-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("pin");
        std::fs::write(&file, "1234\r\n").unwrap();
        let pin = Pin::from_source(&format!("file:{}", file.display())).unwrap();
        assert_eq!(pin.expose_secret(), "1234");
        std::fs::write(&file, "").unwrap();
        let empty = Pin::from_file(&file).unwrap_err();
        assert!(empty.to_string().contains("empty"), "{empty}");
        std::fs::write(&file, "abcd").unwrap();
        assert_eq!(Pin::from_file(&file).unwrap().expose_secret(), "abcd");
        std::fs::write(&file, vec![b'x'; 5000]).unwrap();
        assert!(matches!(Pin::from_file(&file), Err(Error::Config { .. })));
        let missing = Pin::from_file(&dir.join("missing")).unwrap_err();
        assert!(missing.to_string().contains("missing"), "{missing}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
