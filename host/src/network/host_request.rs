//! Requests the host makes on its own behalf (token renewal), not for the guest.
//!
//! Owns sending one such GET through the limiter, so it gets the same pacing, throttle waits
//! and (quick) transient retries as the guest's requests. It must not add the run's access
//! token (the caller puts what the endpoint needs in the URL, or names the token to send as
//! `Authorization: Bearer`, e.g. a renewed one being checked) and must not reach any origin but
//! the run's allowed one (the caller checks; `send_host_get` refuses otherwise).

use super::*;

impl Limiter {
    /// GET `uri` (which must be on `allowed`): the status and body of Meta's final answer, or
    /// why no answer came. Retries like `check` does (once), so a renewal never holds a read
    /// back for long.
    pub async fn send_host_get(
        &self,
        allowed: &Origin,
        uri: http::Uri,
        bearer: Option<&str>,
        output: &Output,
        budget: &WaitBudget,
    ) -> Result<(u16, Bytes), String> {
        if !Origin::of_uri(&uri).is_some_and(|o| o.matches(allowed)) {
            return Err(format!("the request is not for {allowed}"));
        }
        let mut headers = http::HeaderMap::new();
        if let Some(token) = bearer {
            let value = http::HeaderValue::from_str(&format!("Bearer {token}"))
                .map_err(|_| "the token cannot be sent in a header".to_string())?;
            headers.insert(http::header::AUTHORIZATION, value);
        }
        let call = Call { method: http::Method::GET, uri, headers, account: None };
        let limits = self.limits.quick();
        let ctx = RunCtx { output, budget, limits: &limits };
        match self.send(&call, Bytes::new(), &ctx).await {
            Ok(response) => Ok((response.status().as_u16(), response.into_body())),
            Err(HttpError::InternalError(Some(text))) => Err(text),
            Err(e) => Err(format!("{e:?}")),
        }
    }
}
