//! Sessions of stopped workers: nothing queued for a dead worker is lost or left waiting.
//!
//! A broker keeps handing a stopped member of a shared subscription its share of the messages,
//! queued in its persistent session, and Mosquitto (2.0) discards that queue when the session
//! expires (eclipse-mosquitto/mosquitto#2662): a worker SIGKILLed for longer than
//! `mqtt_session_expiry_secs` would lose the readings and acks queued to it, and until then
//! they wait. So every worker holds a liveness lease `mqtt-session:{worker_id}` (the
//! `job_leases` table), renewed several times per lease period, and a period shorter than the
//! session expiry. A worker that finds a peer's lease expired takes it, connects with the
//! peer's client id and clean start off (the broker hands it the session, the messages queued
//! in it and those the peer had not acknowledged), leaves the shared subscription, handles and acknowledges them through the
//! normal path (idempotent: harmless if the peer had handled some), and leaves with session
//! expiry 0, so the broker ends the session and its share of the subscription: from then on
//! the remaining workers receive everything. A peer that comes back starts a new session and
//! joins the shared subscription again; should it come back during the adoption, the broker
//! hands it the session and the adopter stops.
//!
//! MQTT 5 only (the default): a 3.1.1 session never expires, so nothing is lost there.

use std::time::Duration;

use chrono::Utc;

use crate::mqtt;
use crate::Worker;

/// Prefix of the workers' liveness leases.
pub const LEASE_PREFIX: &str = "mqtt-session:";

/// How long an adoption may hold the peer's lease.
const ADOPTION_LIMIT: Duration = Duration::from_secs(60);
/// An adopted session is done when nothing arrived for this long.
const ADOPTION_IDLE: Duration = Duration::from_secs(1);

/// The liveness lease period for a session expiry: a third of it, between 1 and 10 seconds, so
/// a peer is adopted well before the broker would discard its session.
pub fn lease_period(session_expiry_secs: u32) -> Duration {
    (Duration::from_secs(u64::from(session_expiry_secs)) / 3)
        .clamp(Duration::from_secs(1), Duration::from_secs(10))
}

/// Renews this worker's lease and adopts the sessions of peers whose lease expired, forever.
pub async fn keep(worker: Worker, url: String) {
    let settings = worker.settings();
    let own = format!("{LEASE_PREFIX}{}", settings.worker_id);
    let period = lease_period(settings.mqtt_session_expiry_secs);
    let period_chrono = chrono::Duration::from_std(period).unwrap_or(chrono::Duration::seconds(10));
    let adoption = chrono::Duration::from_std(ADOPTION_LIMIT).unwrap_or(chrono::Duration::MAX);
    let mut tick = tokio::time::interval(period / 4);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let now = Utc::now();
        let db = worker.db();
        let holder = &settings.worker_id;
        // Taken by an adopter while this worker was away: it gives the lease back when done.
        if let Err(e) = store::job_lease::try_take(db, &own, holder, now, now + period_chrono).await
        {
            tracing::warn!(error = %e, "renewing the worker's liveness lease");
            continue;
        }
        let expired = match store::job_lease::expired_with_prefix(db, LEASE_PREFIX, now).await {
            Ok(expired) => expired,
            Err(e) => {
                tracing::warn!(error = %e, "looking for stopped workers");
                continue;
            }
        };
        for (name, _) in expired {
            let Some(peer) = name.strip_prefix(LEASE_PREFIX) else {
                continue;
            };
            if peer == holder.as_str() {
                continue;
            }
            match store::job_lease::try_take(db, &name, holder, now, now + adoption).await {
                Ok(true) => {}
                Ok(false) => continue,
                Err(e) => {
                    tracing::warn!(error = %e, peer, "taking a stopped worker's lease");
                    continue;
                }
            }
            let adopted = tokio::time::timeout(ADOPTION_LIMIT, adopt(&worker, &url, peer)).await;
            match adopted {
                Ok(Ok(n)) => tracing::info!(
                    peer,
                    messages = n,
                    "ended a stopped worker's MQTT session after handling what it held"
                ),
                Ok(Err(e)) => {
                    tracing::warn!(peer, error = %format!("{e:#}"), "adopting a stopped worker's session");
                }
                Err(_) => tracing::warn!(peer, "adopting a stopped worker's session took too long"),
            }
            if let Err(e) = store::job_lease::release(db, &name, holder).await {
                tracing::warn!(error = %e, peer, "releasing a stopped worker's lease");
            }
        }
    }
}

/// Connects as `peer` to its session, handles and acknowledges what it holds, and ends it.
/// Answers how many messages it handled.
async fn adopt(worker: &Worker, url: &str, peer: &str) -> anyhow::Result<usize> {
    use rumqttc::v5::mqttbytes::v5::Packet;
    use rumqttc::v5::Event;
    use rumqttc::Outgoing;

    // Clean start off resumes the session; expiry 0 makes it end when we disconnect.
    let options = mqtt::v5_options(worker.settings(), url, peer, 0)?;
    let (client, mut events) = rumqttc::v5::AsyncClient::new(options, 100);
    let mut handled = 0;
    let mut connected = false;
    loop {
        let event = match tokio::time::timeout(ADOPTION_IDLE, events.poll()).await {
            // Idle: everything the session held was handled.
            Err(_) if connected => break,
            Err(_) => continue,
            Ok(Ok(event)) => event,
            // Refused, or taken over by the peer itself coming back: either way, done.
            Ok(Err(e)) => {
                anyhow::ensure!(connected, "connecting as {peer}: {e}");
                tracing::info!(peer, error = %e, "stopped worker's session left");
                return Ok(handled);
            }
        };
        match event {
            Event::Incoming(Packet::ConnAck(ack)) => {
                connected = true;
                if !ack.session_present {
                    break;
                }
                // Nothing new is routed to the session from here; what it holds still comes.
                client
                    .unsubscribe(worker.settings().uplink_filter())
                    .await?;
            }
            Event::Incoming(Packet::Publish(p)) => {
                let topic = String::from_utf8_lossy(&p.topic).into_owned();
                mqtt::handle_until_done(worker, &topic, &p.payload).await;
                client.ack(&p).await?;
                handled += 1;
            }
            _ => {}
        }
    }
    client.disconnect().await?;
    // Let the acks and the DISCONNECT reach the broker.
    let drain = async {
        while let Ok(event) = events.poll().await {
            if matches!(event, Event::Outgoing(Outgoing::Disconnect)) {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(5), drain).await;
    Ok(handled)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lease_is_renewed_well_within_the_session_expiry() {
        assert_eq!(lease_period(60), Duration::from_secs(10));
        assert_eq!(lease_period(5), Duration::from_secs(5) / 3);
        assert_eq!(lease_period(0), Duration::from_secs(1));
        assert_eq!(lease_period(3_600), Duration::from_secs(10));
    }
}
