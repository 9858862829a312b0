//! `/api/docs`: Swagger UI over `/api/openapi.json`. Its assets are compiled into the binary
//! (utoipa-swagger-ui's `vendored` feature), so the page works offline and the build downloads
//! nothing beyond crates.
use actix_web::{get, HttpResponse};
use utoipa_swagger_ui::{Config, SwaggerUi};

/// The Swagger UI service, mounted at `/api/docs/`, reading the served document.
pub fn swagger_ui() -> SwaggerUi {
    SwaggerUi::new("/api/docs/{_:.*}").config(Config::from("/api/openapi.json"))
}

/// `/api/docs` → `/api/docs/` (the UI's relative asset paths need the slash).
#[get("/api/docs")]
pub async fn docs_redirect() -> HttpResponse {
    HttpResponse::PermanentRedirect()
        .insert_header(("Location", "/api/docs/"))
        .finish()
}
