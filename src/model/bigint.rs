//! 64-bit integers that JSON readers cannot hold as numbers (etcd member ids go past 2^53, where a
//! JavaScript or jq number loses digits): written as decimal strings, read from a string or a number.

use serde::{Deserialize, Deserializer, Serializer};

pub fn serialize<S: Serializer>(v: &u64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&v.to_string())
}

pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Either {
        S(String),
        N(u64),
    }
    match Either::deserialize(d)? {
        Either::N(n) => Ok(n),
        Either::S(s) => s.parse().map_err(|_| serde::de::Error::custom(format!("not a 64-bit unsigned integer: {s:?}"))),
    }
}

#[cfg(test)]
mod tests {
    #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
    struct M {
        #[serde(with = "super")]
        id: u64,
    }

    #[test]
    fn ids_past_2_pow_53_keep_every_digit() {
        let m = M { id: 10_276_657_743_932_975_437 };
        let text = serde_json::to_string(&m).unwrap();
        assert_eq!(text, r#"{"id":"10276657743932975437"}"#);
        assert_eq!(serde_json::from_str::<M>(&text).unwrap(), m);
        assert_eq!(serde_json::from_str::<M>(r#"{"id":7}"#).unwrap(), M { id: 7 });
        assert!(serde_json::from_str::<M>(r#"{"id":"x"}"#).is_err());
    }
}
