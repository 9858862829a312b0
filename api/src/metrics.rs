//! Prometheus metrics of the API: requests counted and timed by route pattern (`/api/v1/
//! accounts/{id}`, never the raw path, so ids do not explode the series), plus business gauges
//! read at scrape time with a few indexed `COUNT`s ([`business`]).
//!
//! Rules it keeps: the label set is bounded (method, route pattern, status); a scrape never
//! fails because a business query failed (the gauge is left out and logged instead).

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::web;
use prometheus::{Encoder as _, HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry};
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};

/// The API's metric registry; one per process, shared by every worker thread.
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
}

impl Metrics {
    pub fn new() -> anyhow::Result<Self> {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new("wattpay_http_requests_total", "HTTP requests answered"),
            &["method", "route", "status"],
        )?;
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "wattpay_http_request_duration_seconds",
                "Time to answer an HTTP request",
            )
            .buckets(vec![
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
            ]),
            &["method", "route"],
        )?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(latency.clone()))?;
        Ok(Self {
            registry,
            requests,
            latency,
        })
    }

    /// Records one answered request.
    pub fn observe(&self, method: &str, route: &str, status: u16, seconds: f64) {
        self.requests
            .with_label_values(&[method, route, &status.to_string()])
            .inc();
        self.latency
            .with_label_values(&[method, route])
            .observe(seconds);
    }

    /// The text exposition of the request metrics.
    pub fn render(&self) -> anyhow::Result<String> {
        let mut out = Vec::new();
        prometheus::TextEncoder::new().encode(&self.registry.gather(), &mut out)?;
        Ok(String::from_utf8(out)?)
    }
}

/// Middleware: times every request and counts it under its route pattern.
pub async fn track(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let metrics = req.app_data::<web::Data<Metrics>>().cloned();
    let method = req.method().to_string();
    let res = next.call(req).await?;
    if let Some(metrics) = metrics {
        let route = res.request().match_pattern();
        metrics.observe(
            &method,
            route.as_deref().unwrap_or("unmatched"),
            res.status().as_u16(),
            started.elapsed().as_secs_f64(),
        );
    }
    Ok(res)
}

/// One gauge sample: `name{labels} value`.
struct Sample {
    name: &'static str,
    help: &'static str,
    label: Option<(&'static str, String)>,
    value: i64,
}

/// Business gauges over the whole platform (the operator's view; unscoped on purpose), each
/// one indexed `COUNT` per scrape.
pub async fn business(db: &DatabaseConnection) -> String {
    let queries: [(&str, &str, Option<&str>, &str); 5] = [
        (
            "wattpay_accounts",
            "Open accounts by charge-control state",
            Some("state"),
            "SELECT cc_state AS label, COUNT(*) AS n FROM accounts WHERE status = 'open' GROUP BY cc_state",
        ),
        (
            "wattpay_accounts_protected",
            "Open accounts protected from tripping",
            None,
            "SELECT NULL AS label, COUNT(*) AS n FROM accounts WHERE status = 'open' AND protected",
        ),
        (
            "wattpay_gateways",
            "Gateways by connection state",
            Some("online"),
            "SELECT CASE WHEN online THEN 'true' ELSE 'false' END AS label, COUNT(*) AS n FROM gateways GROUP BY online",
        ),
        (
            "wattpay_commands",
            "Meter commands by state",
            Some("state"),
            "SELECT state AS label, COUNT(*) AS n FROM commands GROUP BY state",
        ),
        (
            "wattpay_outbox_pending",
            "Outbox rows the worker has not processed yet",
            None,
            "SELECT NULL AS label, COUNT(*) AS n FROM outbox WHERE processed_at IS NULL",
        ),
    ];
    let backend = db.get_database_backend();
    let mut samples = Vec::new();
    for (name, help, label_name, sql) in queries {
        match db.query_all(Statement::from_string(backend, sql)).await {
            Ok(rows) => {
                for row in rows {
                    let label: Option<String> = row.try_get("", "label").ok().flatten();
                    let value: i64 = row.try_get("", "n").unwrap_or_default();
                    samples.push(Sample {
                        name,
                        help,
                        label: label_name.zip(label),
                        value,
                    });
                }
            }
            Err(e) => tracing::warn!(metric = name, error = %e, "business metric query failed"),
        }
    }
    exposition(&samples)
}

fn exposition(samples: &[Sample]) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let mut last = "";
    for s in samples {
        // Writing to a String cannot fail.
        if s.name != last {
            let _ = writeln!(out, "# HELP {} {}\n# TYPE {} gauge", s.name, s.help, s.name);
            last = s.name;
        }
        let _ = match &s.label {
            Some((k, v)) => {
                let v = v
                    .replace('\\', "\\\\")
                    .replace('"', "\\\"")
                    .replace('\n', "\\n");
                writeln!(out, "{}{{{k}=\"{v}\"}} {}", s.name, s.value)
            }
            None => writeln!(out, "{} {}", s.name, s.value),
        };
    }
    out
}
