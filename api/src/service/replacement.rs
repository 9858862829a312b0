//! Replacing a meter (换表): the old meter's final reading is rated (charged up to it), the old
//! meter retires (off its unit and its gateway's config, its history kept), the new meter
//! takes its place with its start reading as its baseline, so nothing is charged twice or
//! lost; the gateway's config is republished (outbox row) and the act audited, all in one
//! transaction.

use chrono::{DateTime, Utc};
use domain::Money;
use sea_orm::{DatabaseConnection, TransactionTrait as _};
use store::manual_reading::{NewManualReading, Purpose};
use store::settlement::Rated;
use store::{AccountStatus, Meter, MeterId};

use super::settlement::rate_final;
use crate::auth::OrgContext;
use crate::error::ApiError;
use crate::routes::reading::refused;

/// A meter replacement as requested.
#[derive(Clone, Debug)]
pub struct ReplaceRequest {
    pub old_final_wh: i64,
    pub new: store::meter::NewMeter,
    pub new_start_wh: i64,
    pub replaced_at: DateTime<Utc>,
}

/// Replaces a meter: rates the old one's final reading, retires it, adds the new meter with
/// its start reading as its baseline, and has the gateway's config republished; one
/// transaction, audited. Answers the old meter's charge and the new meter.
pub async fn replace_meter(
    db: &DatabaseConnection,
    ctx: &OrgContext,
    old: MeterId,
    req: ReplaceRequest,
) -> Result<(Money, Meter), ApiError> {
    let org = ctx.org_id;
    let scope = ctx.scope();
    let actor = ctx.user_id;
    let ctx = *ctx;
    db.transaction::<_, (Money, Meter), ApiError>(|txn| {
        Box::pin(async move {
            let old_meter = store::meter::get(txn, scope, old)
                .await
                .map_err(crate::routes::reading::meter_not_found)?;
            if store::meter_retirement::get(txn, org, old).await?.is_some() {
                return Err(ApiError::conflict(
                    "meter_retired",
                    "the meter was already replaced",
                ));
            }
            let account = match old_meter.unit_id {
                Some(unit) => {
                    let filter = store::account::AccountFilter {
                        unit_id: Some(unit),
                        status: Some(AccountStatus::Open),
                        ..Default::default()
                    };
                    store::account::list_filtered(txn, scope, &filter, store::Page::new(1, 1))
                        .await?
                        .items
                        .into_iter()
                        .next()
                }
                None => None,
            };
            let final_reading = Some((req.replaced_at, req.old_final_wh));
            let charged = if let Some(a) = &account {
                rate_final(txn, org, a, &old_meter, final_reading, actor, None).await?
            } else {
                // A vacant unit: nothing to charge; keep the final reading for history.
                let entered = store::manual_reading::enter(
                    txn,
                    org,
                    NewManualReading {
                        meter_id: old,
                        ts: req.replaced_at,
                        energy_wh: req.old_final_wh,
                        purpose: Purpose::Final,
                        entered_by: Some(actor),
                        note: None,
                    },
                )
                .await?;
                if let Some(e) = refused(&entered) {
                    return Err(e);
                }
                Money::ZERO
            };
            let mut new = req.new.clone();
            new.gateway_id = old_meter.gateway_id;
            new.unit_id = old_meter.unit_id;
            let free_wire_id = new.wire_id == old_meter.wire_id;
            let retirement = store::meter_retirement::NewRetirement {
                retired_at: req.replaced_at,
                replaced_by: None,
                final_wh: req.old_final_wh,
                retired_by: Some(actor),
                free_wire_id,
            };
            store::meter_retirement::retire(txn, org, &old_meter, retirement).await?;
            let new_meter = store::meter::create(txn, scope, new).await?;
            store::meter_retirement::set_replaced_by(txn, org, old, new_meter.id).await?;
            let entered = store::manual_reading::enter(
                txn,
                org,
                NewManualReading {
                    meter_id: new_meter.id,
                    ts: req.replaced_at,
                    energy_wh: req.new_start_wh,
                    purpose: Purpose::Start,
                    entered_by: Some(actor),
                    note: Some(format!("replaces meter {}", old_meter.wire_id)),
                },
            )
            .await?;
            if let Some(e) = refused(&entered) {
                return Err(e);
            }
            if let Some(a) = &account {
                // The start reading becomes the new meter's baseline now: nothing before it
                // can ever be charged through the new meter.
                if let Rated::Charged { .. } =
                    store::settlement::rate_through(txn, org, &new_meter, a, req.replaced_at)
                        .await?
                {
                } else {
                    return Err(ApiError::unprocessable(
                        "no_tariff",
                        "the account has no tariff: set one before replacing its meter",
                    ));
                }
            }
            let gw = store::gateway::get(txn, scope, old_meter.gateway_id).await?;
            store::outbox::enqueue(
                txn,
                Some(org),
                store::outbox::kind::GATEWAY_CONFIG_CHANGED,
                serde_json::json!({"gateway_id": gw.id, "gateway": gw.gateway_id}),
            )
            .await?;
            ctx.audit(
                txn,
                "meter.replace",
                "meter",
                old,
                serde_json::json!({
                    "before": {"meter": &old_meter},
                    "after": {"meter": &new_meter, "old_final_wh": req.old_final_wh,
                              "new_start_wh": req.new_start_wh, "replaced_at": req.replaced_at,
                              "charged": charged.to_string()},
                }),
            )
            .await?;
            Ok((charged, new_meter))
        })
    })
    .await
    .map_err(ApiError::from)
}
