//! authentik's page-number pagination (`page`, `page_size`), with plexid's cap on `page_size`.

use serde::Serialize;

pub const DEFAULT_PAGE_SIZE: u64 = 100;
/// D14: authentik has no maximum; plexid clamps larger values to this.
pub const MAX_PAGE_SIZE: u64 = 1000;
pub const INVALID_PAGE: &str = "Invalid page.";

/// Which page was asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PageNumber {
    Number(u64),
    Last,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageRequest {
    pub page: PageNumber,
    pub size: u64,
}

/// A page number that does not exist (404 "Invalid page.").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidPage;

impl PageRequest {
    /// Reads `page` and `page_size` as DRF does: a bad `page_size` falls back to the default,
    /// a bad `page` is an invalid page.
    pub fn parse(page: Option<&str>, page_size: Option<&str>) -> Result<Self, InvalidPage> {
        let size = page_size
            .and_then(|s| s.trim().parse::<u64>().ok())
            .filter(|n| *n > 0)
            .map_or(DEFAULT_PAGE_SIZE, |n| n.min(MAX_PAGE_SIZE));
        let page = match page.map(str::trim) {
            None => PageNumber::Number(1),
            Some("last") => PageNumber::Last,
            Some(text) => match text.parse::<u64>() {
                Ok(n) if n >= 1 => PageNumber::Number(n),
                _ => return Err(InvalidPage),
            },
        };
        Ok(PageRequest { page, size })
    }

    /// Rows to skip for a numbered page (`Last` needs the count first, see [`Pagination::new`]).
    pub fn offset(&self) -> Option<u64> {
        match self.page {
            PageNumber::Number(n) => Some((n - 1).saturating_mul(self.size)),
            PageNumber::Last => None,
        }
    }
}

/// The `pagination` object of every list response.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Pagination {
    pub next: u64,
    pub previous: u64,
    pub count: u64,
    pub current: u64,
    pub total_pages: u64,
    pub start_index: u64,
    pub end_index: u64,
}

impl Pagination {
    /// The pagination of `request` over `count` rows; a page past the end is invalid
    /// (except the first page of an empty list).
    pub fn new(request: PageRequest, count: u64) -> Result<Self, InvalidPage> {
        let total_pages = count.div_ceil(request.size).max(1);
        let current = match request.page {
            PageNumber::Number(n) => n,
            PageNumber::Last => total_pages,
        };
        if current > total_pages {
            return Err(InvalidPage);
        }
        let (start_index, end_index) = if count == 0 {
            (0, 0)
        } else {
            let start = (current - 1) * request.size + 1;
            (start, (current * request.size).min(count))
        };
        Ok(Pagination {
            next: if current < total_pages { current + 1 } else { 0 },
            previous: current - 1,
            count,
            current,
            total_pages,
            start_index,
            end_index,
        })
    }

    /// Rows to skip for this page.
    pub fn offset(&self, size: u64) -> u64 {
        (self.current - 1) * size
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(page: Option<&str>, size: Option<&str>) -> PageRequest {
        PageRequest::parse(page, size).unwrap()
    }

    #[test]
    fn empty_list_is_page_one_of_one() {
        let p = Pagination::new(req(None, None), 0).unwrap();
        assert_eq!(
            serde_json::to_string(&p).unwrap(),
            r#"{"next":0,"previous":0,"count":0,"current":1,"total_pages":1,"start_index":0,"end_index":0}"#
        );
    }

    #[test]
    fn middle_page() {
        let p = Pagination::new(req(Some("2"), Some("1")), 3).unwrap();
        assert_eq!((p.next, p.previous, p.current, p.total_pages, p.start_index, p.end_index), (3, 1, 2, 3, 2, 2));
    }

    #[test]
    fn last_page_and_past_the_end() {
        let p = Pagination::new(req(Some("last"), Some("100")), 250).unwrap();
        assert_eq!((p.current, p.start_index, p.end_index, p.next), (3, 201, 250, 0));
        assert_eq!(Pagination::new(req(Some("9"), None), 3), Err(InvalidPage));
    }

    #[test]
    fn bad_page_numbers_are_invalid() {
        for page in ["0", "-1", "abc", ""] {
            assert_eq!(PageRequest::parse(Some(page), None), Err(InvalidPage), "{page}");
        }
    }

    #[test]
    fn page_size_falls_back_and_is_clamped() {
        assert_eq!(req(None, Some("0")).size, DEFAULT_PAGE_SIZE);
        assert_eq!(req(None, Some("x")).size, DEFAULT_PAGE_SIZE);
        assert_eq!(req(None, Some("-5")).size, DEFAULT_PAGE_SIZE);
        assert_eq!(req(None, Some("5000")).size, MAX_PAGE_SIZE);
        assert_eq!(req(None, Some("20")).size, 20);
    }
}
