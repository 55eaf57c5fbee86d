//! `appsecret_proof`: Meta's proof that a call comes from the app's own server, which an app
//! with the setting "Require App Secret" demands on every call.
//!
//! Owns computing the proof (hex of HMAC-SHA256 keyed with the app secret over the access
//! token, as Meta documents: `hash_hmac('sha256', $access_token, $app_secret)`) and putting it
//! in a request URI as the `appsecret_proof` parameter (replacing one already there). The
//! network policy adds it to every request it sends for the component when the config holds
//! `client_secret`; a batch request carries it on the batch, which covers its operations. The
//! proof is a credential like the token: it is registered as a secret and never printed.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The query parameter Meta reads.
const PARAM: &str = "appsecret_proof";

/// `hex(HMAC-SHA256(key = app_secret, message = access_token))`.
pub(crate) fn proof(app_secret: &str, access_token: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(app_secret.as_bytes()).expect("HMAC takes a key of any length");
    mac.update(access_token.as_bytes());
    mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect()
}

/// `uri` with `appsecret_proof=proof` in its query (any earlier one removed).
pub(crate) fn with_proof(uri: &http::Uri, proof: &str) -> http::Uri {
    let kept = uri.query().unwrap_or("").split('&').filter(|p| !p.is_empty() && p.split('=').next() != Some(PARAM));
    let query: Vec<String> = kept.map(str::to_string).chain([format!("{PARAM}={proof}")]).collect();
    let path_and_query = format!("{}?{}", uri.path(), query.join("&"));
    let mut parts = uri.clone().into_parts();
    match path_and_query.parse() {
        Ok(pq) => {
            parts.path_and_query = Some(pq);
            http::Uri::from_parts(parts).unwrap_or_else(|_| uri.clone())
        }
        Err(_) => uri.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The proof is HMAC-SHA256 with the secret as the key (RFC 4231 test case 2: key "Jefe",
    /// message "what do ya want for nothing?").
    #[test]
    fn proof_is_hmac_sha256_keyed_with_the_secret() {
        assert_eq!(
            proof("Jefe", "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert_ne!(proof("what do ya want for nothing?", "Jefe"), proof("Jefe", "what do ya want for nothing?"));
    }

    /// The parameter is added to any query, and replaces an earlier one.
    #[test]
    fn the_proof_goes_in_the_query() {
        let add = |u: &str| with_proof(&u.parse().unwrap(), "abc").to_string();
        assert_eq!(add("http://g/v25.0/me"), "http://g/v25.0/me?appsecret_proof=abc");
        assert_eq!(
            add("http://g/v25.0/1/media?limit=100&after=X"),
            "http://g/v25.0/1/media?limit=100&after=X&appsecret_proof=abc"
        );
        assert_eq!(add("http://g/v25.0/?appsecret_proof=old&x=1"), "http://g/v25.0/?x=1&appsecret_proof=abc");
    }
}
