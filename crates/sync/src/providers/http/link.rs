//! Pagination (spec §3.3): the next page is whatever the server's `Link: <…>; rel="next"` says,
//! never a page number built by hand; GitLab's `X-Next-Page` is the only fallback. Also the
//! `url_key` under which a URL's ETag is stored: the URL without its page cursor.

use reqwest::Url;
use reqwest::header::HeaderMap;

/// Query parameters that only move through pages; they are left out of an ETag's `url_key`.
const CURSOR_PARAMS: [&str; 5] = ["page", "after", "cursor", "nextPageToken", "startAt"];

/// The `rel="next"` target of a `Link` header value, exactly as sent.
pub fn next_link(link: &str) -> Option<String> {
    let mut rest = link;
    while let Some(open) = rest.find('<') {
        let after_open = &rest[open + 1..];
        let close = after_open.find('>')?;
        let target = &after_open[..close];
        let params_and_more = &after_open[close + 1..];
        let params_end = params_and_more.find('<').unwrap_or(params_and_more.len());
        let params = &params_and_more[..params_end];
        let is_next = params.split(';').any(|p| {
            let p = p.trim().trim_end_matches(',').trim();
            p.strip_prefix("rel=").is_some_and(|v| {
                v.trim_matches('"')
                    .split_whitespace()
                    .any(|r| r.eq_ignore_ascii_case("next"))
            })
        });
        if is_next {
            return Some(target.to_owned());
        }
        rest = params_and_more;
    }
    None
}

/// The next page of a response: `Link` rel="next", else GitLab's `X-Next-Page` applied to the
/// current URL's `page` parameter. `None` on the last page.
pub fn next_page(headers: &HeaderMap, current: &str) -> Option<String> {
    if let Some(next) = headers
        .get_all(reqwest::header::LINK)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(next_link)
    {
        return Some(next);
    }
    let page = headers
        .get("x-next-page")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|p| !p.is_empty())?;
    let mut url = Url::parse(current).ok()?;
    let kept: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(k, _)| k != "page")
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    url.query_pairs_mut()
        .clear()
        .extend_pairs(kept)
        .append_pair("page", page);
    Some(url.to_string())
}

/// Percent-encodes a query value or path segment (everything but RFC 3986 unreserved bytes).
pub fn encode_component(raw: &str) -> String {
    raw.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                char::from(b).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

/// The key an ETag is stored under (`http_etags.url_key`): the URL without page cursors, so
/// the first page of a list keeps its key from one run to the next.
pub fn url_key(url: &str) -> String {
    let Ok(mut parsed) = Url::parse(url) else {
        return url.to_owned();
    };
    let kept: Vec<(String, String)> = parsed
        .query_pairs()
        .filter(|(k, _)| !CURSOR_PARAMS.contains(&k.as_ref()))
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    if kept.is_empty() {
        parsed.set_query(None);
    } else {
        parsed.query_pairs_mut().clear().extend_pairs(kept);
    }
    parsed.to_string()
}

#[cfg(test)]
mod tests {
    use reqwest::header::HeaderValue;

    use super::*;

    #[test]
    fn follows_rel_next_exactly() {
        let link = r#"<https://api.github.com/repositories/1/pulls?page=2&labels=a,b>; rel="next", <https://api.github.com/repositories/1/pulls?page=5>; rel="last""#;
        assert_eq!(
            next_link(link).as_deref(),
            Some("https://api.github.com/repositories/1/pulls?page=2&labels=a,b")
        );
        let last = r#"<https://x.example/p?page=1>; rel="first", <https://x.example/p?page=4>; rel="prev""#;
        assert_eq!(next_link(last), None);
        assert_eq!(
            next_link("<https://x.example/n>; rel=next").as_deref(),
            Some("https://x.example/n")
        );
    }

    #[test]
    fn gitlab_falls_back_to_x_next_page() {
        let mut h = HeaderMap::new();
        h.insert("x-next-page", HeaderValue::from_static("3"));
        assert_eq!(
            next_page(
                &h,
                "https://gl.example/api/v4/projects/1/merge_requests?state=all&page=2"
            )
            .as_deref(),
            Some("https://gl.example/api/v4/projects/1/merge_requests?state=all&page=3")
        );
        h.insert("x-next-page", HeaderValue::from_static(""));
        assert_eq!(next_page(&h, "https://gl.example/a?page=2"), None);
        h.insert(
            "link",
            HeaderValue::from_static("<https://gl.example/a?page=9>; rel=\"next\""),
        );
        assert_eq!(
            next_page(&h, "https://gl.example/a?page=2").as_deref(),
            Some("https://gl.example/a?page=9")
        );
    }

    #[test]
    fn url_key_drops_only_page_cursors() {
        assert_eq!(
            url_key("https://api.github.com/repos/o/r/pulls?state=all&per_page=100&page=3"),
            "https://api.github.com/repos/o/r/pulls?state=all&per_page=100"
        );
        assert_eq!(
            url_key("https://api.github.com/repos/o/r/pulls/1?page=2"),
            "https://api.github.com/repos/o/r/pulls/1"
        );
    }
}
