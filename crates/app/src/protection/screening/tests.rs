//! Unit tests of `screening`: the attacks it must see and the ordinary text it must not.

use super::{Threat, rules_ready, screen_text, screen_url_part};

#[test]
fn the_rules_compile() {
    assert!(rules_ready());
}

#[test]
fn attacks_are_recognised() {
    let cases = [
        ("' OR '1'='1", Threat::SqlInjection),
        ("x' or 1=1 --", Threat::SqlInjection),
        ("1 OR 1=1", Threat::SqlInjection),
        ("admin'--", Threat::SqlInjection),
        ("admin' #", Threat::SqlInjection),
        (
            "1 UNION ALL SELECT password FROM users",
            Threat::SqlInjection,
        ),
        ("1 union/**/select 1", Threat::SqlInjection),
        ("x'; DROP TABLE accounts; --", Threat::SqlInjection),
        ("1; delete from transfers", Threat::SqlInjection),
        ("1' AND pg_sleep(5)", Threat::SqlInjection),
        ("1 waitfor delay '0:0:5'", Threat::SqlInjection),
        (
            "select * from information_schema.tables",
            Threat::SqlInjection,
        ),
        ("<script>alert(1)</script>", Threat::Xss),
        ("<ScRiPt src=//evil>", Threat::Xss),
        ("<img src=x onerror=alert(1)>", Threat::Xss),
        ("<svg/onload=alert(1)>", Threat::Xss),
        ("javascript:alert(document.cookie)", Threat::Xss),
        ("<a href='JavaScript:void(0)'>", Threat::Xss),
        ("data:text/html;base64,PHNjcmlwdD4=", Threat::Xss),
        ("../../etc/passwd", Threat::PathTraversal),
        ("..\\..\\windows\\win.ini", Threat::PathTraversal),
        ("file\u{0}.txt", Threat::PathTraversal),
        ("%2e%2e%2fsecret", Threat::PathTraversal),
        ("x\r\nSet-Cookie: session=evil", Threat::HeaderInjection),
        ("x%0d%0aLocation: https://evil", Threat::HeaderInjection),
    ];
    for (text, threat) in cases {
        assert_eq!(screen_text(text), Some(threat), "{text}");
    }
    assert_eq!(
        screen_url_part("/v1/me\r\nX: y"),
        Some(Threat::HeaderInjection)
    );
}

#[test]
fn ordinary_text_passes() {
    let cases = [
        "O'Brien",
        "Siobhán O'Connor-Smith",
        "d'Artagnan & Sons",
        "Rock 'n' roll",
        "It's rent; update later",
        "Select the best option from the list",
        "Dinner & drinks <3",
        "I <3 money, a < b > c",
        "Payment for invoice #42 -- thanks!",
        "Flat 3'#4 and Joe's--Bar",
        "Line one\nLine two\nNote: paid in full",
        "Sleep (8 hours) is important",
        "Wait... what?",
        "sofia@example.com",
        "https://example.com/path?x=1&y=2",
        "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0",
        "12 Rue de l'Église, 75001 Paris",
        "Union Street 5, Aberdeen",
        "JavaScript: the good parts (course fee)",
        "a < base salary, x < form factor",
        "Shop closed; shutdown for winter",
        "Deliver to:\r\nLocation: back door\nX-mas: yes",
        "Zoë Ångström-Ñúñez",
        "Or else = fine",
        "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b",
        "EUR",
        "1000000",
        "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ4In0.c2ln",
    ];
    for text in cases {
        assert_eq!(screen_text(text), None, "{text}");
    }
    assert_eq!(screen_url_part("/v1/accounts/0190a1b2/entries"), None);
    assert_eq!(screen_url_part("limit=50&after=abc"), None);
}
