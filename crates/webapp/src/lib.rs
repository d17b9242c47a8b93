//! The customer web app's files (`web/dist`), embedded at compile time (see `build.rs`): the
//! lookup by URL path, content types and caching classes. No IO at run time.
//!
//! A binary built before `npm run build` has no files; `is_built` tells the server to answer
//! with a problem instead of a blank page.

/// One embedded file.
#[derive(Debug)]
pub struct Asset {
    /// URL path, e.g. `/index.html` or `/assets/index-Bx3k9a.js`.
    pub path: &'static str,
    pub bytes: &'static [u8],
}

include!(concat!(env!("OUT_DIR"), "/assets.rs"));

/// The URL folder Vite writes content-hashed files to: their names change with their
/// content, so browsers may cache them for good.
const HASHED_ASSETS_PREFIX: &str = "/assets/";
const INDEX_PATH: &str = "/index.html";

/// How long a browser may cache a response, by what the file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caching {
    /// A content-hashed file: `public, max-age=31536000, immutable`.
    Immutable,
    /// `index.html`: always fetched anew, so a deploy takes effect at the next load.
    NoStore,
    /// Other public files (the icon): revalidated on every use.
    Revalidate,
}

impl Caching {
    pub fn header_value(self) -> &'static str {
        match self {
            Caching::Immutable => "public, max-age=31536000, immutable",
            Caching::NoStore => "no-store",
            Caching::Revalidate => "no-cache",
        }
    }
}

/// True when the binary embeds a built web app.
pub fn is_built() -> bool {
    index_html().is_some()
}

/// The single-page app's entry document.
pub fn index_html() -> Option<&'static Asset> {
    asset(INDEX_PATH)
}

/// The file served at `path`, if the build has one (exact match only: no directory listing,
/// no `..` resolution, nothing outside the table).
pub fn asset(path: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|asset| asset.path == path)
}

/// All embedded files.
pub fn assets() -> &'static [Asset] {
    ASSETS
}

impl Asset {
    pub fn caching(&self) -> Caching {
        caching(self.path)
    }

    pub fn content_type(&self) -> &'static str {
        content_type(self.path)
    }
}

pub fn caching(path: &str) -> Caching {
    if path == INDEX_PATH {
        Caching::NoStore
    } else if path.starts_with(HASHED_ASSETS_PREFIX) {
        Caching::Immutable
    } else {
        Caching::Revalidate
    }
}

/// The media type by file extension; unknown kinds are opaque bytes (and with `nosniff` the
/// browser will not guess).
pub fn content_type(path: &str) -> &'static str {
    let extension = path.rsplit_once('.').map_or("", |(_, extension)| extension);
    match extension {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" | "map" => "application/json",
        "webmanifest" => "application/manifest+json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "webp" => "image/webp",
        "woff2" => "font/woff2",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashed_files_are_cached_for_good_and_the_entry_document_never() {
        // A deploy must reach browsers at their next load, and unchanged files must not be
        // fetched again.
        assert_eq!(caching("/index.html"), Caching::NoStore);
        assert_eq!(caching("/assets/index-3fa9c1.js"), Caching::Immutable);
        assert_eq!(caching("/favicon.svg"), Caching::Revalidate);
    }

    #[test]
    fn content_types_follow_the_extension() {
        for (path, expected) in [
            ("/index.html", "text/html; charset=utf-8"),
            ("/assets/a-1.js", "text/javascript; charset=utf-8"),
            ("/assets/a-1.css", "text/css; charset=utf-8"),
            ("/favicon.svg", "image/svg+xml"),
            ("/no-extension", "application/octet-stream"),
            ("/assets/x.exe", "application/octet-stream"),
        ] {
            assert_eq!(content_type(path), expected, "{path}");
        }
    }

    #[test]
    fn lookups_are_exact() {
        // No path outside the embedded table can ever be served.
        assert!(asset("/../Cargo.toml").is_none());
        assert!(asset("").is_none());
        if let Some(index) = index_html() {
            assert_eq!(index.path, "/index.html");
            assert!(asset("/index.html/").is_none());
        }
    }
}
