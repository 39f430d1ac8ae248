//! Serde for SHA-256 hashes stored as lowercase hex in event payloads.

use serde::{Deserialize, Deserializer, Serializer};

/// Writes the hash as hex.
pub fn serialize<S: Serializer>(hash: &[u8; 32], serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&hex::encode(hash))
}

/// Reads a hash written as hex.
pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<[u8; 32], D::Error> {
    let text = String::deserialize(deserializer)?;
    let mut hash = [0u8; 32];
    hex::decode_to_slice(&text, &mut hash)
        .map_err(|_| serde::de::Error::custom("expected a SHA-256 hash as 64 hex digits"))?;
    Ok(hash)
}

/// Serde for an optional hash: hex, or absent.
pub mod option {
    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes the hash as hex (callers skip `None`).
    pub fn serialize<S: Serializer>(
        hash: &Option<[u8; 32]>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match hash {
            Some(hash) => super::serialize(hash, serializer),
            None => serializer.serialize_none(),
        }
    }

    /// Reads a hash written as hex, or `null`.
    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<[u8; 32]>, D::Error> {
        Option::<String>::deserialize(deserializer)?
            .map(|text| super::deserialize(serde::de::value::StringDeserializer::new(text)))
            .transpose()
    }
}
