//! Pagination of list queries: `?page=&per_page=` (1-based, at most 200 per page).

use sea_orm::{ConnectionTrait, EntityTrait, FromQueryResult, PaginatorTrait, Select};
use serde::{Deserialize, Serialize};

use crate::StoreError;

/// The largest page a list query answers.
pub const MAX_PER_PAGE: u64 = 200;

/// Which page of a list: `page` is 1-based; `per_page` is clamped to 1..=200.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Page {
    pub page: u64,
    pub per_page: u64,
}

impl Default for Page {
    fn default() -> Self {
        Page {
            page: 1,
            per_page: 50,
        }
    }
}

impl Page {
    pub fn new(page: u64, per_page: u64) -> Self {
        Page { page, per_page }
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
    let paginator = select.paginate(conn, size);
    let total = paginator.num_items().await?;
    let items = paginator.fetch_page(number - 1).await?;
    Ok(Paged { items, total })
}
