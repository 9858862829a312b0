//! Lists: `?page=&per_page=` in, `{"items", "page", "per_page", "total"}` out.
//!
//! `page` is 1-based (default 1), `per_page` defaults to 50 and may not exceed 200; anything else
//! is a `400 invalid_page` rather than a silently different page. Handlers take a
//! `web::Query<ListQuery>` beside their own filter query (both read the same query string).
//!
//! Sorting: `?sort=field` (ascending) or `?sort=-field` (descending), with `field` one of the
//! list's whitelist (a `&[(api name, column)]` constant beside the handler); anything else is a
//! `400 invalid_sort`. [`SortQuery::apply`] puts the order on the store [`Page`], and the store's
//! one pagination function applies it, ties broken by id.

use serde::{Deserialize, Serialize};
use store::{Page, Paged, Sort};
use utoipa::{IntoParams, ToSchema};

use crate::error::ApiError;

/// Pagination parameters of every list endpoint.
#[derive(Debug, Clone, Copy, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// 1-based page number (default 1).
    #[param(minimum = 1)]
    pub page: Option<u64>,
    /// Items per page (default 50, at most 200).
    #[param(minimum = 1, maximum = 200)]
    pub per_page: Option<u64>,
}

impl ListQuery {
    /// The store page, or `400 invalid_page`.
    pub fn page(&self) -> Result<Page, ApiError> {
        let page = self.page.unwrap_or(1);
        let per_page = self.per_page.unwrap_or(Page::default().per_page);
        if page == 0 || page > 1_000_000 {
            return Err(ApiError::bad_request(
                "invalid_page",
                "page must be between 1 and 1000000",
            ));
        }
        if per_page == 0 || per_page > store::page::MAX_PER_PAGE {
            return Err(ApiError::bad_request(
                "invalid_page",
                format!(
                    "per_page must be between 1 and {}",
                    store::page::MAX_PER_PAGE
                ),
            ));
        }
        Ok(Page::new(page, per_page))
    }
}

/// `?sort=` of the list endpoints that sort.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SortQuery {
    /// A field to sort by, ascending; prefixed by `-`, descending. Each list names its fields.
    pub sort: Option<String>,
}

impl SortQuery {
    /// `page` sorted as asked, or `400 invalid_sort` for a field not in `allowed`
    /// (`(name in the API, column)` pairs).
    pub fn apply(&self, page: Page, allowed: &[(&str, &'static str)]) -> Result<Page, ApiError> {
        let Some(sort) = self
            .sort
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        else {
            return Ok(page);
        };
        let (descending, name) = match sort.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, sort.strip_prefix('+').unwrap_or(sort)),
        };
        let column = allowed
            .iter()
            .find(|(api, _)| *api == name)
            .map(|(_, column)| *column)
            .ok_or_else(|| {
                let names: Vec<&str> = allowed.iter().map(|(api, _)| *api).collect();
                ApiError::bad_request(
                    "invalid_sort",
                    format!(
                        "cannot sort by `{name}`; sort by one of: {}",
                        names.join(", ")
                    ),
                )
            })?;
        Ok(page.sorted(Some(Sort { column, descending })))
    }
}

/// One page of a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct ListResponse<T: ToSchema> {
    pub items: Vec<T>,
    /// The page answered (1-based).
    pub page: u64,
    pub per_page: u64,
    /// Items over all pages.
    pub total: u64,
}

impl<T: ToSchema> ListResponse<T> {
    /// Maps a store page through `f` (store row → JSON view).
    pub fn from_paged<M>(paged: Paged<M>, page: Page, f: impl FnMut(M) -> T) -> Self {
        ListResponse {
            items: paged.items.into_iter().map(f).collect(),
            page: page.page,
            per_page: page.per_page,
            total: paged.total,
        }
    }

    /// A list built from fallible conversions.
    pub fn try_from_paged<M>(
        paged: Paged<M>,
        page: Page,
        f: impl FnMut(M) -> Result<T, ApiError>,
    ) -> Result<Self, ApiError> {
        Ok(ListResponse {
            items: paged.items.into_iter().map(f).collect::<Result<_, _>>()?,
            page: page.page,
            per_page: page.per_page,
            total: paged.total,
        })
    }
}
