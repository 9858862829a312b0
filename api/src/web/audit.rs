//! The audit log page (`/audit`, org admins): who did what to which row, newest first, paged
//! like the REST API's `GET /api/v1/audit`.
//!
//! Rules it keeps: org admins only (others get 403, as the API answers); the organization's
//! own entries only; the detail is shown as the JSON it was recorded as, escaped.

use std::collections::{HashMap, HashSet};

use actix_web::{get, web, HttpResponse};
use minijinja::context;
use serde::Deserialize;

use super::account::local_time;
use super::page::WebError;
use super::session::Manager;

const PER_PAGE: u64 = 50;

#[derive(Deserialize)]
pub struct AuditQuery {
    page: Option<u64>,
}

#[get("/audit")]
pub async fn page(m: Manager, q: web::Query<AuditQuery>) -> Result<HttpResponse, WebError> {
    if !m.session.is_admin() {
        return Err(WebError::Forbidden);
    }
    let state = m.web.state()?.clone();
    let page = q.page.unwrap_or(1).max(1);
    let paged = store::audit::list(
        &state.db,
        m.session.org_id,
        store::Page::new(page, PER_PAGE),
    )
    .await?;
    let actors: HashSet<_> = paged.items.iter().filter_map(|e| e.actor_user_id).collect();
    let mut names = HashMap::new();
    for id in actors {
        if let Ok(u) = store::user::get_user(&state.db, id).await {
            names.insert(id, u.email);
        }
    }
    let total = paged.total;
    let rows: Vec<_> = paged
        .items
        .into_iter()
        .map(|e| {
            context! {
                at => local_time(e.created_at),
                actor => e.actor_user_id.and_then(|a| names.get(&a).cloned()),
                action => e.action,
                target => format!("{} {}", e.target_type, e.target_id),
                detail => e.detail,
            }
        })
        .collect();
    m.web.render(
        "audit.html",
        context! {
            rows => rows,
            page => page,
            total => total,
            has_next => page * PER_PAGE < total,
        },
    )
}
