//! The `?search=…&page=…` of the admin lists: 50 rows a page, and the links between pages.

use plexid_store::listing::Window;
use serde::Deserialize;

use crate::pages::escape;

const PAGE_SIZE: u64 = 50;

#[derive(Deserialize, Default)]
pub struct Paging {
    #[serde(default)]
    pub search: String,
    #[serde(default)]
    pub page: Option<u64>,
}

impl Paging {
    fn page(&self) -> u64 {
        self.page.unwrap_or(1).max(1)
    }

    /// The search terms (the list's filters AND them).
    pub fn terms(&self) -> Vec<String> {
        self.search.split_whitespace().map(str::to_owned).collect()
    }

    pub fn window(&self) -> Window {
        // Saturating: `?page=18446744073709551615` is a page past the end, not an overflow.
        Window::Offset { limit: PAGE_SIZE, offset: (self.page() - 1).saturating_mul(PAGE_SIZE) }
    }

    /// The search box of the list at `base` (a path), labelled `label`.
    pub fn search_form(&self, base: &str, label: &str) -> String {
        format!(
            "<form method=\"get\" action=\"{base}\" role=\"search\" class=\"searchbar\"><label for=\"search\">{label}</label>\
             <input type=\"search\" id=\"search\" name=\"search\" value=\"{search}\"> \
             <button type=\"submit\" class=\"secondary\">Search</button></form>",
            search = escape(&self.search),
        )
    }

    /// The links between the pages of `total` rows of the list at `base`, keeping the search.
    pub fn pages(&self, total: u64, base: &str) -> String {
        self.pager(total, &format!("{base}?search={}", super::encoded(&self.search)))
    }

    /// Previous/next links between the pages of `total` rows; `query` is the list's path with
    /// its query (its filters), to which the page number is added.
    pub fn pager(&self, total: u64, query: &str) -> String {
        let (page, pages) = (self.page(), total.div_ceil(PAGE_SIZE).max(1));
        if pages <= 1 {
            return String::new();
        }
        let mut links = Vec::new();
        if page > 1 {
            // From past the end, "previous" is the last page.
            let previous = (page - 1).min(pages);
            links.push(format!("<a href=\"{}&amp;page={previous}\" rel=\"prev\">Previous</a>", escape(query)));
        }
        links.push(format!("<span>Page {page} of {pages}</span>"));
        if page < pages {
            links.push(format!("<a href=\"{}&amp;page={}\" rel=\"next\">Next</a>", escape(query), page + 1));
        }
        format!("<nav class=\"pager\" aria-label=\"Pages\">{}</nav>", links.join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_of_fifty_with_links_both_ways() {
        let q = Paging { search: " plex  friends ".into(), page: Some(2) };
        assert_eq!(q.terms(), ["plex", "friends"]);
        assert!(matches!(q.window(), Window::Offset { limit: 50, offset: 50 }));
        let links = q.pager(120, "/if/admin/users/?search=a&b");
        assert!(links.contains("href=\"/if/admin/users/?search=a&amp;b&amp;page=1\" rel=\"prev\""), "{links}");
        assert!(links.contains("Page 2 of 3") && links.contains("page=3\" rel=\"next\""), "{links}");
        assert_eq!(Paging::default().pager(50, "/x?"), "", "one page: no links");
        assert!(matches!(Paging { page: Some(0), ..Default::default() }.window(), Window::Offset { offset: 0, .. }));
        let far = Paging { page: Some(u64::MAX), ..Default::default() };
        assert!(matches!(far.window(), Window::Offset { offset: u64::MAX, .. }), "no overflow");
        assert!(far.pager(120, "/x?").contains("page=3\" rel=\"prev\""), "back to the last page");
    }
}
