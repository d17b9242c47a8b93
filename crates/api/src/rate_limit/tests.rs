//! Unit tests of `rate_limit`: which class each route belongs to.

use app::cluster::RouteClass;
use http::Method;

use super::route_class;

#[test]
fn every_api_route_has_its_class() {
    let public = |method: Method, path: &str| route_class("public", &method, path);
    assert_eq!(
        public(Method::POST, "/v1/auth/login"),
        Some(RouteClass::Auth)
    );
    assert_eq!(
        public(Method::POST, "/v1/auth/webauthn/login/options"),
        Some(RouteClass::Auth)
    );
    assert_eq!(
        public(Method::POST, "/v1/auth/mfa/totp"),
        Some(RouteClass::Auth)
    );
    assert_eq!(
        public(Method::POST, "/v1/mfa/totp/enroll"),
        Some(RouteClass::Auth)
    );
    assert_eq!(
        public(Method::GET, "/v1/auth/sessions"),
        Some(RouteClass::Read)
    );
    assert_eq!(
        public(Method::DELETE, "/v1/auth/sessions/abc"),
        Some(RouteClass::Write)
    );
    assert_eq!(
        public(Method::POST, "/v1/transfers"),
        Some(RouteClass::Money)
    );
    assert_eq!(
        public(Method::GET, "/v1/transfers/x"),
        Some(RouteClass::Read)
    );
    assert_eq!(
        public(Method::PUT, "/v1/me/profile"),
        Some(RouteClass::Write)
    );
    assert_eq!(public(Method::GET, "/v1/accounts"), Some(RouteClass::Read));
    assert_eq!(
        public(Method::POST, "/v1/admin/users/x/lock"),
        Some(RouteClass::Admin)
    );
    assert_eq!(
        route_class("internal", &Method::POST, "/internal/v1/deposits"),
        Some(RouteClass::Internal)
    );
}

#[test]
fn health_documents_and_static_files_are_not_limited() {
    for path in [
        "/healthz",
        "/openapi.json",
        "/.well-known/jwks.json",
        "/",
        "/assets/app.js",
    ] {
        assert_eq!(route_class("public", &Method::GET, path), None, "{path}");
    }
    assert_eq!(route_class("ops", &Method::GET, "/metrics"), None);
}
