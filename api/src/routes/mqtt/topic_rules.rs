//! Who may publish or subscribe to which MQTT topic: the rules of `deploy/mosquitto/acl`, as code
//! for the EMQX authorization hook, so both brokers confine gateways the same way.
//!
//! - The workers' user reads every gateway's uplink (`wattpay/v1/gw/+/up/#`, also through a
//!   `$share/<group>/` subscription) and writes every downlink (`wattpay/v1/gw/+/down/#`).
//! - A gateway (username = its wire id) publishes only under `wattpay/v1/gw/{id}/up/#` and
//!   subscribes only to filters inside `wattpay/v1/gw/{id}/down/#`.
//! - Anything else is denied. A subscription filter is allowed only when every topic it can match
//!   is allowed, so `wattpay/v1/gw/+/down/#` is refused to a gateway.

/// The MQTT operation being authorized.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Publish,
    Subscribe,
}

/// The topic prefix every gateway topic lives under.
pub const PREFIX: &str = "wattpay/v1/gw";

/// Whether `username` may perform `action` on `topic` (a topic name for publish, a topic filter
/// for subscribe). `worker_username` names the workers' user.
pub fn allowed(username: &str, worker_username: &str, action: Action, topic: &str) -> bool {
    if username == worker_username {
        return match action {
            Action::Publish => {
                is_topic_name(topic) && filter_within(topic, &format!("{PREFIX}/+/down/#"))
            }
            Action::Subscribe => filter_within(strip_share(topic), &format!("{PREFIX}/+/up/#")),
        };
    }
    if !store::gateway::is_valid_wire_id(username) {
        return false;
    }
    match action {
        Action::Publish => {
            is_topic_name(topic) && filter_within(topic, &format!("{PREFIX}/{username}/up/#"))
        }
        // Gateways have no business with shared subscriptions: the `$share/` form is not
        // stripped, so it falls outside their downlink and is refused.
        Action::Subscribe => filter_within(topic, &format!("{PREFIX}/{username}/down/#")),
    }
}

/// `$share/<group>/<filter>` → `<filter>`; anything else unchanged.
fn strip_share(filter: &str) -> &str {
    filter
        .strip_prefix("$share/")
        .and_then(|rest| rest.split_once('/'))
        .map_or(filter, |(_group, inner)| inner)
}

/// A topic name (what is published) has no wildcards.
fn is_topic_name(topic: &str) -> bool {
    !topic.is_empty() && !topic.contains(['+', '#'])
}

/// Whether every topic `filter` matches is also matched by `pattern` (MQTT filter semantics:
/// `+` one level, `#` the rest, including the parent level).
fn filter_within(filter: &str, pattern: &str) -> bool {
    if filter.is_empty() || filter.contains('\0') {
        return false;
    }
    let mut f = filter.split('/');
    let mut p = pattern.split('/');
    loop {
        match (f.next(), p.next()) {
            // The pattern's `#` covers whatever remains of the filter, wildcards included; or
            // both ended together.
            (_, Some("#")) | (None, None) => return true,
            (Some(fl), Some("+")) => {
                if fl == "#" {
                    return false;
                }
            }
            (Some(fl), Some(pl)) => {
                if fl != pl {
                    return false;
                }
            }
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{allowed, Action};

    const W: &str = "wattpay-worker";

    #[test]
    fn a_gateway_publishes_only_its_own_uplink() {
        let gw = "gw-0001";
        assert!(allowed(
            gw,
            W,
            Action::Publish,
            "wattpay/v1/gw/gw-0001/up/readings"
        ));
        assert!(allowed(
            gw,
            W,
            Action::Publish,
            "wattpay/v1/gw/gw-0001/up/status"
        ));
        assert!(!allowed(
            gw,
            W,
            Action::Publish,
            "wattpay/v1/gw/gw-0002/up/readings"
        ));
        assert!(!allowed(
            gw,
            W,
            Action::Publish,
            "wattpay/v1/gw/gw-0001/down/commands"
        ));
        assert!(!allowed(
            gw,
            W,
            Action::Publish,
            "wattpay/v1/gw/gw-0001/up/+"
        ));
        assert!(!allowed(gw, W, Action::Publish, "wattpay/v1/gw/gw-0001"));
        assert!(!allowed(gw, W, Action::Publish, "other/topic"));
    }

    #[test]
    fn a_gateway_subscribes_only_inside_its_own_downlink() {
        let gw = "gw-0001";
        assert!(allowed(
            gw,
            W,
            Action::Subscribe,
            "wattpay/v1/gw/gw-0001/down/#"
        ));
        assert!(allowed(
            gw,
            W,
            Action::Subscribe,
            "wattpay/v1/gw/gw-0001/down/config"
        ));
        assert!(allowed(
            gw,
            W,
            Action::Subscribe,
            "wattpay/v1/gw/gw-0001/down/+"
        ));
        assert!(!allowed(
            gw,
            W,
            Action::Subscribe,
            "wattpay/v1/gw/gw-0002/down/#"
        ));
        assert!(!allowed(gw, W, Action::Subscribe, "wattpay/v1/gw/+/down/#"));
        assert!(!allowed(
            gw,
            W,
            Action::Subscribe,
            "wattpay/v1/gw/gw-0001/#"
        ));
        assert!(!allowed(gw, W, Action::Subscribe, "#"));
        assert!(!allowed(
            gw,
            W,
            Action::Subscribe,
            "$share/g/wattpay/v1/gw/gw-0001/down/#"
        ));
    }

    #[test]
    fn the_worker_reads_uplinks_and_writes_downlinks() {
        assert!(allowed(W, W, Action::Subscribe, "wattpay/v1/gw/+/up/#"));
        assert!(allowed(
            W,
            W,
            Action::Subscribe,
            "$share/wattpay-workers/wattpay/v1/gw/+/up/#"
        ));
        assert!(allowed(
            W,
            W,
            Action::Publish,
            "wattpay/v1/gw/gw-0001/down/commands"
        ));
        assert!(!allowed(
            W,
            W,
            Action::Publish,
            "wattpay/v1/gw/gw-0001/up/readings"
        ));
        assert!(!allowed(W, W, Action::Subscribe, "#"));
        assert!(!allowed(W, W, Action::Subscribe, "wattpay/v1/gw/+/+/#"));
    }

    #[test]
    fn unknown_users_get_nothing() {
        for user in ["", "admin", "gw-", "GW-0001", "gw-a/b", "gw-+"] {
            assert!(
                !allowed(user, W, Action::Subscribe, "wattpay/v1/gw/+/up/#"),
                "{user}"
            );
            assert!(
                !allowed(
                    user,
                    W,
                    Action::Publish,
                    &format!("wattpay/v1/gw/{user}/up/x")
                ),
                "{user}"
            );
        }
    }
}
