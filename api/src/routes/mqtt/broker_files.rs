//! The Mosquitto files the API exports: `passwd` (one `username:$7$...` line per gateway, the
//! hashes exactly as stored at creation) and `acl` (the rules of [`super::topic_rules`] in
//! Mosquitto's syntax). `deploy/mosquitto/acl` is this ACL with the default worker user.

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
use secrecy::{ExposeSecret as _, SecretString};
use store::entity::gateway;
use store::{OrgId, StoreError};

use super::topic_rules::PREFIX;

/// `(wire id, stored $7$ hash)` of the gateways of `org` that have a password, by wire id.
pub async fn gateway_hashes(
    conn: &impl ConnectionTrait,
    org: OrgId,
) -> Result<Vec<(String, String)>, StoreError> {
    let rows = gateway::Entity::find()
        .filter(gateway::Column::OrganizationId.eq(org))
        .filter(gateway::Column::MqttPasswordHash.is_not_null())
        .order_by_asc(gateway::Column::GatewayId)
        .all(conn)
        .await?;
    Ok(pairs(rows))
}

/// Unscoped on purpose: the platform's one broker serves every organization's gateways, so the
/// platform admin's export lists them all (never shown to an organization's users).
pub async fn all_gateway_hashes(
    conn: &impl ConnectionTrait,
) -> Result<Vec<(String, String)>, StoreError> {
    let rows = gateway::Entity::find()
        .filter(gateway::Column::MqttPasswordHash.is_not_null())
        .order_by_asc(gateway::Column::GatewayId)
        .all(conn)
        .await?;
    Ok(pairs(rows))
}

fn pairs(rows: Vec<gateway::Model>) -> Vec<(String, String)> {
    rows.into_iter()
        .filter_map(|g| g.mqtt_password_hash.map(|h| (g.gateway_id, h)))
        .collect()
}

/// The workers' passwd line, hashed now with a fresh salt.
pub fn worker_line(username: &str, password: &SecretString) -> String {
    format!(
        "{username}:{}",
        crate::mqtt_password::hash(password.expose_secret())
    )
}

/// A Mosquitto password file: `extra` lines first (the workers'), then one line per gateway.
pub fn passwd_file(extra: &[String], gateways: &[(String, String)]) -> String {
    let mut out = String::new();
    for line in extra {
        out.push_str(line);
        out.push('\n');
    }
    for (user, hash) in gateways {
        out.push_str(user);
        out.push(':');
        out.push_str(hash);
        out.push('\n');
    }
    out
}

/// The Mosquitto ACL file for workers named `worker_username` and gateways signing in with
/// their wire id.
pub fn acl_file(worker_username: &str) -> String {
    format!(
        "# Workers (username {worker_username}) read every gateway's uplink and write every downlink.\n\
         user {worker_username}\n\
         topic read {PREFIX}/+/up/#\n\
         topic write {PREFIX}/+/down/#\n\
         \n\
         # Every other user is a gateway whose username is its gateway id: it may publish only its own\n\
         # uplink and subscribe only to its own downlink.\n\
         pattern write {PREFIX}/%u/up/#\n\
         pattern read {PREFIX}/%u/down/#\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_committed_acl_is_the_exported_one() {
        let committed = include_str!("../../../../deploy/mosquitto/acl");
        assert_eq!(committed, acl_file("wattpay-worker"));
    }

    #[test]
    fn passwd_lists_worker_then_gateways() {
        let file = passwd_file(
            &["wattpay-worker:$7$1$a$b".to_owned()],
            &[("gw-1".to_owned(), "$7$101$c$d".to_owned())],
        );
        assert_eq!(file, "wattpay-worker:$7$1$a$b\ngw-1:$7$101$c$d\n");
    }
}
