//! Pagination of list queries: `?page=&per_page=` (1-based, at most 200 per page).

use sea_orm::sea_query::{Alias, Order};
use sea_orm::{
    ConnectionTrait, EntityTrait, FromQueryResult, IdenStatic, Iterable, PaginatorTrait,
    QueryTrait, Select,
};
use serde::{Deserialize, Serialize};

use crate::StoreError;

/// The largest page a list query answers.
pub const MAX_PER_PAGE: u64 = 200;

/// Which page of a list: `page` is 1-based; `per_page` is clamped to 1..=200. An optional
/// [`Sort`] replaces the list's own order (ties broken by `id`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Page {
    pub page: u64,
    pub per_page: u64,
    #[serde(skip)]
    pub sort: Option<Sort>,
}

/// An order by one column of the listed table. The column name is `'static` because it comes
/// from a list's whitelist (the API's `?sort=`), never from a request's text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sort {
    pub column: &'static str,
    pub descending: bool,
}

impl Default for Page {
    fn default() -> Self {
        Page {
            page: 1,
            per_page: 50,
            sort: None,
        }
    }
}

impl Page {
    pub fn new(page: u64, per_page: u64) -> Self {
        Page {
            page,
            per_page,
            sort: None,
        }
    }

    /// The same page, sorted.
    #[must_use]
    pub fn sorted(mut self, sort: Option<Sort>) -> Self {
        self.sort = sort;
        self
    }

    /// The first page with the largest size.
    pub fn all() -> Self {
        Page::new(1, MAX_PER_PAGE)
    }

    fn clamped(self) -> (u64, u64) {
        (self.page.max(1), self.per_page.clamp(1, MAX_PER_PAGE))
    }
}

/// One page of items and the total number of items over all pages.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Paged<T> {
    pub items: Vec<T>,
    pub total: u64,
}

/// Runs an ordered select as one page plus a count.
pub(crate) async fn fetch<E, M>(
    conn: &impl ConnectionTrait,
    select: Select<E>,
    page: Page,
) -> Result<Paged<M>, StoreError>
where
    E: EntityTrait<Model = M>,
    M: FromQueryResult + Sized + Send + Sync,
{
    let (number, size) = page.clamped();
    let mut select = select;
    if let Some(sort) = page.sort {
        let order = if sort.descending {
            Order::Desc
        } else {
            Order::Asc
        };
        let table = E::default();
        let query = select.query();
        query
            .clear_order_by()
            .order_by((table, Alias::new(sort.column)), order);
        if E::Column::iter().any(|c| c.as_str() == "id") {
            query.order_by((table, Alias::new("id")), Order::Asc);
        }
    }
    let paginator = select.paginate(conn, size);
    let total = paginator.num_items().await?;
    let items = paginator.fetch_page(number - 1).await?;
    Ok(Paged { items, total })
}
