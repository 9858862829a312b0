//! The stylesheet and script, compiled into the binary and served from `/static/`.
//!
//! Rules it keeps: only our own files (no CDN, nothing third-party copied in); a fixed list, so
//! no path from a request ever reaches the file system.

use actix_web::http::header;
use actix_web::{get, web, HttpResponse};

const FILES: &[(&str, &str, &str)] = &[
    (
        "app.css",
        "text/css; charset=utf-8",
        include_str!("../../static/app.css"),
    ),
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_str!("../../static/app.js"),
    ),
    (
        "tenant.css",
        "text/css; charset=utf-8",
        include_str!("../../static/tenant.css"),
    ),
    (
        "tenant.js",
        "text/javascript; charset=utf-8",
        include_str!("../../static/tenant.js"),
    ),
];

#[get("/static/{file}")]
pub async fn file(path: web::Path<String>) -> HttpResponse {
    match FILES.iter().find(|(name, _, _)| *name == path.as_str()) {
        Some((_, content_type, body)) => HttpResponse::Ok()
            .content_type(*content_type)
            // Short: files change with each release and carry no version in their name.
            .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
            .body(*body),
        None => HttpResponse::NotFound().finish(),
    }
}
