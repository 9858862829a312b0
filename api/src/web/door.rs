//! The tenant's door page (`/t/{account_no}`), opened from the QR code on the door: balance in
//! large type, power state, "about N days left", "pay ¥X to restore power", top-up, and the
//! live balance over Server-Sent Events (`/t/{account_no}/events`), woken by the live cache's
//! announcements (`AppState::live`), with the database as the fallback.
//!
//! Rules it keeps (ARCHITECTURE.md invariant 5's one exception): anyone with the number sees
//! only the balance, the power state, the unit and a masked name, and may pay; nothing else
//! (no ledger, no phone, no full name). A malformed number is refused before any lookup.

use std::time::Duration;

use actix_web::http::header;
use actix_web::{get, web, HttpResponse};
use chrono::Utc;
use futures_util::stream;
use minijinja::context;
use serde::Serialize;
use store::live::LiveSnapshot;
use store::{Account, StoreError};
use tokio::sync::broadcast;

use super::page::WebError;
use super::query;
use crate::startup::AppState;

/// The amounts offered as buttons, in yuan.
pub const PRESETS: [i64; 6] = [10, 20, 50, 100, 200, 500];
/// How long an open door page's stream waits for an announcement before it reads the database
/// (the cache may be down or behind) and sends a comment line that keeps proxies from closing
/// an idle stream.
const FALLBACK: Duration = Duration::from_secs(15);
/// Days of use behind the "days left" estimate.
const ESTIMATE_DAYS: i64 = 14;

/// What the live stream sends, and what the page starts with.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Live {
    pub balance: String,
    /// `on`, `soon_off`, `off` or `restoring`.
    pub power: &'static str,
    /// Yuan to pay to get power back, when it is off.
    pub restore_amount: Option<String>,
}

pub fn power_of(cc_state: &str) -> &'static str {
    match cc_state {
        "tripped" | "force_tripped" => "off",
        "restoring" => "restoring",
        "alarmed" | "trip_pending" => "soon_off",
        _ => "on",
    }
}

/// What brings the balance above the trip threshold, rounded up to a preset (above the largest
/// preset, up to whole hundreds of yuan).
pub fn restore_amount(balance_fen: i64, trip_threshold_fen: i64) -> i64 {
    let needed_fen = (trip_threshold_fen - balance_fen + 1).max(1);
    PRESETS
        .iter()
        .copied()
        .find(|&p| p * 100 >= needed_fen)
        .unwrap_or_else(|| (needed_fen + 9_999) / 10_000 * 100)
}

/// The first letter of the name's first word, then stars: "张伟 Zhang Wei" → "张*".
pub fn mask_name(name: &str) -> String {
    let first = name.split_whitespace().next().unwrap_or_default();
    let mut chars = first.chars();
    let Some(initial) = chars.next() else {
        return String::new();
    };
    let stars = chars.count().clamp(1, 3);
    format!("{initial}{}", "*".repeat(stars))
}

/// The trip threshold in force: the account's own, else its site's, else its organization's.
pub async fn trip_threshold_fen(
    db: &sea_orm::DatabaseConnection,
    a: &Account,
) -> Result<i64, StoreError> {
    let defaults = store::control_settings::Defaults::default();
    let e =
        store::control_settings::effective_for_account(db, a.organization_id, a, &defaults).await?;
    store::money::to_fen(e.trip_threshold.value)
}

pub async fn live_of(db: &sea_orm::DatabaseConnection, a: &Account) -> Result<Live, StoreError> {
    let power = power_of(&a.cc_state);
    let restore_amount = if a.cc_state == "tripped" {
        Some(restore_amount(a.balance_fen, trip_threshold_fen(db, a).await?).to_string())
    } else {
        None
    };
    Ok(Live {
        balance: a.balance().to_string(),
        power,
        restore_amount,
    })
}

/// The account behind a door number, or 404.
pub async fn find(db: &sea_orm::DatabaseConnection, no: &str) -> Result<Account, WebError> {
    if !store::account::is_valid_account_no(no) {
        return Err(WebError::NotFound);
    }
    store::unscoped::find_by_account_no(db, no)
        .await?
        .ok_or(WebError::NotFound)
}

/// Everything the door page shows.
pub async fn door_view(state: &AppState, a: &Account) -> Result<minijinja::Value, WebError> {
    let db = &state.db;
    let org = a.organization_id;
    let unit = store::unit::get(db, org, a.unit_id).await?;
    let building = store::building::get(db, org, unit.building_id).await?;
    let site = store::site::get(db, org, building.site_id).await?;
    let tenant = match a.tenant_id {
        Some(t) => mask_name(&store::tenant::get(db, org, t).await?.name),
        None => String::new(),
    };
    let live = live_of(db, a).await?;
    let since = Utc::now() - chrono::Duration::days(ESTIMATE_DAYS);
    let used_fen: i64 = query::daily_money(db, org, Some(a.id), since)
        .await?
        .values()
        .map(|&(charge, _)| charge)
        .sum();
    // Days the balance lasts at the average daily use of the last two weeks.
    let days_left =
        (used_fen > 0 && a.balance_fen > 0).then(|| a.balance_fen * ESTIMATE_DAYS / used_fen);
    let meters: Vec<_> = query::meters_of_unit(db, org, unit.id)
        .await?
        .into_iter()
        .map(|m| m.id)
        .collect();
    let last_reading = query::last_reading_at(db, org, &meters)
        .await?
        .map(super::account::local_time);
    let providers: Vec<&str> = super::pay::offers(db, a)
        .await?
        .into_iter()
        .map(|(provider, _)| provider)
        .collect();
    Ok(context! {
        account_no => &a.account_no,
        site => site.name,
        building => building.name,
        unit => unit.name,
        tenant => tenant,
        balance => live.balance,
        negative => a.balance().is_negative(),
        power => live.power,
        restore_amount => live.restore_amount,
        days_left => days_left,
        last_reading => last_reading,
        providers => providers,
    })
}

#[get("/t/{account_no}")]
pub async fn page(
    mut web: super::page::Web,
    path: web::Path<String>,
) -> Result<HttpResponse, WebError> {
    let state = web.state()?.clone();
    let a = find(&state.db, &path).await?;
    // Inside WeChat, its web authorisation first (JSAPI payment needs the payer's openid).
    if let Some(redirect) = super::tenant_wechat::authorise_first(&mut web, &state, &a).await? {
        return Ok(redirect);
    }
    let d = door_view(&state, &a).await?;
    // The signed-in tenant who owns the account gets a link to its usage and ledger.
    let mine = super::tenant::own_page(&web, &state, &a).await;
    let d = context! { mine => mine, ..d };
    render(
        &web,
        &d,
        None,
        false,
        &context! { preset => "", custom => "", provider => "" },
        &context! {},
    )
}

/// Draws the door page with an optional message and the top-up form's values and errors.
pub fn render(
    web: &super::page::Web,
    d: &minijinja::Value,
    message: Option<&str>,
    message_error: bool,
    form: &minijinja::Value,
    errors: &minijinja::Value,
) -> Result<HttpResponse, WebError> {
    let in_wechat = web
        .req
        .headers()
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ua| ua.contains("MicroMessenger"));
    web.render(
        "door.html",
        context! {
            d => d,
            presets => PRESETS,
            message => message,
            message_error => message_error,
            in_wechat => in_wechat,
            form => form,
            errors => errors,
        },
    )
}

#[get("/t/{account_no}/events")]
pub async fn events(
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, WebError> {
    // Subscribed before the first read, so a change between the two is not missed.
    let announcements = state.live.subscribe();
    let a = find(&state.db, &path).await?;
    let first = live_of(&state.db, &a).await?;
    let initial = event(&first);
    let updates = stream::unfold(
        (state, a, first, announcements),
        |(state, a, last, mut announcements)| async move {
            let woke = tokio::time::timeout(FALLBACK, next_change(&mut announcements, &a)).await;
            // An announcement carries the new balance and state; otherwise (nothing announced
            // for a while, or announcements were missed) the database says what is true now.
            let timed_out = woke.is_err();
            let current = match woke {
                Ok(Some(snapshot)) => with_snapshot(&a, &snapshot),
                _ => store::unscoped::find_by_account_no(&state.db, &a.account_no)
                    .await
                    .ok()
                    .flatten(),
            };
            let live = match &current {
                Some(now) => live_of(&state.db, now).await.ok(),
                None => None,
            };
            let (chunk, last) = match live {
                Some(now) if now != last => (event(&now), now),
                _ if timed_out => (": keepalive\n\n".to_owned(), last),
                _ => (String::new(), last),
            };
            let a = current.unwrap_or(a);
            Some((
                Ok::<_, std::convert::Infallible>(web::Bytes::from(chunk)),
                (state, a, last, announcements),
            ))
        },
    );
    let body = stream::once(async move { Ok(web::Bytes::from(initial)) }).chain(updates);
    Ok(HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header(("X-Accel-Buffering", "no"))
        // Compression would hold events back in the encoder's buffer.
        .insert_header(actix_web::http::header::ContentEncoding::Identity)
        .streaming(body))
}

/// Waits for the next announcement about this account: `Some` with its snapshot, `None` when
/// some were missed (the caller reads the database). Never returns once the channel is closed.
async fn next_change(
    announcements: &mut broadcast::Receiver<LiveSnapshot>,
    a: &Account,
) -> Option<LiveSnapshot> {
    loop {
        match announcements.recv().await {
            Ok(snapshot) if snapshot.account_id == a.id => return Some(snapshot),
            Ok(_) => {}
            Err(broadcast::error::RecvError::Lagged(_)) => return None,
            Err(broadcast::error::RecvError::Closed) => std::future::pending::<()>().await,
        }
    }
}

/// The account as the snapshot describes it (its threshold still comes from the account).
fn with_snapshot(a: &Account, snapshot: &LiveSnapshot) -> Option<Account> {
    let mut a = a.clone();
    a.balance_fen = snapshot.balance.to_fen().ok()?;
    a.cc_state.clone_from(&snapshot.cc_state);
    Some(a)
}

fn event(live: &Live) -> String {
    let data = serde_json::to_string(live).unwrap_or_else(|_| "{}".to_owned());
    format!("event: balance\ndata: {data}\n\n")
}

use futures_util::StreamExt as _;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restore_rounds_up_to_a_preset() {
        // ¥-3.20 with trip at ¥0: ¥3.21 needed → ¥10.
        assert_eq!(restore_amount(-320, 0), 10);
        // Exactly at the threshold still needs a fen more.
        assert_eq!(restore_amount(0, 0), 10);
        assert_eq!(restore_amount(-4_500, 0), 50);
        assert_eq!(restore_amount(-5_000, 0), 100);
        assert_eq!(restore_amount(-80_000, 0), 900);
    }

    #[test]
    fn masks_names() {
        assert_eq!(mask_name("张伟 Zhang Wei"), "张*");
        assert_eq!(mask_name("Zhang San"), "Z***");
        assert_eq!(mask_name(""), "");
    }
}
