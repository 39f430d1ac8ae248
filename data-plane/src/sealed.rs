//! Small values sealed into URL-safe text that only pods holding the same keyring can open:
//! sign-in tickets, OAuth `state`, the authorization server's pages' state and cookies. Each use
//! names its own context (bound as associated data), so one kind cannot pass for another.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use mcpgw_shared::secret::Keyring;
use mcpgw_shared::{SealedSecret, SecretCipher};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Seals and opens JSON values as text; cheap to clone.
#[derive(Clone)]
pub struct TextSealer {
    cipher: SecretCipher,
}

impl std::fmt::Debug for TextSealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TextSealer").finish_non_exhaustive()
    }
}

impl TextSealer {
    /// Seals with the first key of `keyring`, opens with any of them.
    pub fn new(keyring: Keyring) -> Self {
        Self {
            cipher: SecretCipher::new(keyring),
        }
    }

    /// `value` sealed for `context`.
    pub fn seal<T: Serialize>(&self, value: &T, context: &str) -> String {
        let json = serde_json::to_string(value).expect("sealed values serialize");
        let sealed = self.cipher.seal(&json, context);
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&sealed).expect("sealed secrets serialize"))
    }

    /// The value `text` holds, if it was sealed for `context` by this fleet and is whole.
    pub fn open<T: DeserializeOwned>(&self, text: &str, context: &str) -> Option<T> {
        let bytes = URL_SAFE_NO_PAD.decode(text).ok()?;
        let sealed: SealedSecret = serde_json::from_slice(&bytes).ok()?;
        let json = self.cipher.open(&sealed, context).ok()?;
        serde_json::from_str(json.expose()).ok()
    }
}
