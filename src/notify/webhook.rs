//! Webhooks: the events of a batch POSTed as JSON to a recipient's URL, through the same outbox
//! (retries, backoff, exactly-once bookkeeping) as mail. The batch id is sent as
//! `Idempotency-Key`, so a receiver can drop the one resend a crash can cause.

use std::time::Duration;

use super::NotifyError;
use super::transport::{SendFailure, error_chain};
use crate::config::Config;
use crate::store::EventRow;

pub struct Client {
    http: reqwest::Client,
}

#[derive(serde::Serialize)]
struct Payload<'a> {
    id: &'a str,
    recipient: &'a str,
    events: &'a [EventRow],
}

impl Client {
    pub fn new(config: &Config) -> Result<Client, NotifyError> {
        crate::fetch::init_tls();
        let http = reqwest::Client::builder()
            .user_agent(config.fetch.user_agent.clone())
            .timeout(Duration::from_secs(30))
            .connect_timeout(config.fetch.connect_timeout)
            // A webhook that redirects is misconfigured; following it could post elsewhere.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| NotifyError::Build(format!("webhook client: {e}")))?;
        Ok(Client { http })
    }

    pub async fn post(
        &self,
        url: &url::Url,
        id: &str,
        recipient: &str,
        events: &[EventRow],
    ) -> Result<(), SendFailure> {
        let body = serde_json::to_vec(&Payload {
            id,
            recipient,
            events,
        })
        .map_err(|e| SendFailure {
            reason: e.to_string(),
            permanent: true,
        })?;
        let resp = self
            .http
            .post(url.clone())
            .header("content-type", "application/json")
            .header("idempotency-key", id.trim_matches(['<', '>']))
            .body(body)
            .send()
            .await
            .map_err(|e| SendFailure {
                reason: error_chain(&e),
                permanent: false,
            })?;
        let status = resp.status();
        if status.is_success() {
            return Ok(());
        }
        // A client error other than a timeout or rate limit will not fix itself by waiting.
        let permanent = status.is_client_error() && !matches!(status.as_u16(), 408 | 429);
        Err(SendFailure {
            reason: format!("webhook {url} answered {status}"),
            permanent,
        })
    }
}
