//! Where the worker's downlink messages go: the MQTT client in production, a recorder in
//! tests that call the step functions directly. Every message is QoS 1; configs are retained.

use std::sync::Mutex;

use async_trait::async_trait;
use tokio::sync::Notify;

#[derive(Debug, thiserror::Error)]
#[error("publish failed: {0}")]
pub struct PublishError(pub String);

#[async_trait]
pub trait Publisher: Send + Sync {
    async fn publish(
        &self,
        topic: &str,
        payload: Vec<u8>,
        retain: bool,
    ) -> Result<(), PublishError>;
}

#[async_trait]
impl Publisher for rumqttc::v5::AsyncClient {
    async fn publish(
        &self,
        topic: &str,
        payload: Vec<u8>,
        retain: bool,
    ) -> Result<(), PublishError> {
        rumqttc::v5::AsyncClient::publish(
            self,
            topic,
            rumqttc::v5::mqttbytes::QoS::AtLeastOnce,
            retain,
            payload,
        )
        .await
        .map_err(|e| PublishError(e.to_string()))
    }
}

#[async_trait]
impl Publisher for rumqttc::AsyncClient {
    async fn publish(
        &self,
        topic: &str,
        payload: Vec<u8>,
        retain: bool,
    ) -> Result<(), PublishError> {
        rumqttc::AsyncClient::publish(self, topic, rumqttc::QoS::AtLeastOnce, retain, payload)
            .await
            .map_err(|e| PublishError(e.to_string()))
    }
}

/// A published message, as recorded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Published {
    pub topic: String,
    pub payload: Vec<u8>,
    pub retain: bool,
}

/// Records what would have been published (tests).
#[derive(Debug, Default)]
pub struct RecordingPublisher {
    messages: Mutex<Vec<Published>>,
    changed: Notify,
}

impl RecordingPublisher {
    /// Everything published so far.
    pub fn messages(&self) -> Vec<Published> {
        self.messages
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Takes everything published so far.
    pub fn take(&self) -> Vec<Published> {
        std::mem::take(
            &mut *self
                .messages
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
    }

    /// Waits until something is published (after the call).
    pub async fn changed(&self) {
        self.changed.notified().await;
    }
}

#[async_trait]
impl Publisher for RecordingPublisher {
    async fn publish(
        &self,
        topic: &str,
        payload: Vec<u8>,
        retain: bool,
    ) -> Result<(), PublishError> {
        self.messages
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(Published {
                topic: topic.to_owned(),
                payload,
                retain,
            });
        self.changed.notify_waiters();
        Ok(())
    }
}
