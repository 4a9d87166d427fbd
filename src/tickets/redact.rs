//! Masking customer identity for vendors set to `mask_customer_pii`: pure
//! text functions, applied to answers only (what is stored and mailed stays
//! whole, so replies still reach the customer).

use serde_json::Value;
use std::borrow::Cow;
use std::sync::LazyLock;

/// What stands in for the hidden part of a name or address.
pub const MASK: &str = "•••";

/// A name shown as its initial: `Alice Smith` -> `A•••`. The mask never
/// says how long the name was. A name that does not start with a letter or
/// digit (a bidi control, punctuation) shows no initial at all, so nothing
/// invisible or misleading leaks through.
pub fn mask_name(name: &str) -> String {
    match name.trim().chars().next().filter(|c| c.is_alphanumeric()) {
        Some(initial) => format!("{initial}{MASK}"),
        None => MASK.to_string(),
    }
}

/// An address shown as the initial of its local part and its whole domain:
/// `alice@example.com` -> `a•••@example.com` (the domain tells a business
/// customer apart and is rarely personal). Text without `@` is masked like
/// a name.
pub fn mask_address(address: &str) -> String {
    match address.trim().rsplit_once('@') {
        Some((local, domain)) => format!("{}@{domain}", mask_name(local)),
        None => mask_name(address),
    }
}

/// Something shaped like an address inside free text: a local part up to
/// the nearest character that cannot be in one unquoted (space, `<`, `:`,
/// quotes...), then `@` and a domain. The match may start later than a
/// strict parser would (`mailto:`, `&lt;`), which only masks more.
static ADDRESS_IN_TEXT: LazyLock<regex::Regex> = LazyLock::new(|| {
    regex::Regex::new(
        r#"(?P<local>[^\s@<>()\[\]\\,;:"']+)@(?P<domain>[\p{L}\p{N}-]+(?:\.[\p{L}\p{N}-]+)*)"#,
    )
    .expect("the address pattern compiles")
});

/// Every address in `text` masked (see [`mask_address`]); text without one
/// is returned as it is, without a copy.
pub fn mask_addresses_in(text: &str) -> Cow<'_, str> {
    ADDRESS_IN_TEXT.replace_all(text, |found: &regex::Captures<'_>| {
        format!("{}@{}", mask_name(&found["local"]), &found["domain"])
    })
}

/// [`mask_addresses_in`] applied to every string inside a JSON value
/// (event data, custom fields); keys are left as they are.
pub fn mask_addresses_in_json(value: &mut Value) {
    for_each_string(value, &mut |text| {
        if let Cow::Owned(masked) = mask_addresses_in(text) {
            *text = masked;
        }
    });
}

/// Calls `f` on every string value inside `value`, at any depth.
pub fn for_each_string(value: &mut Value, f: &mut impl FnMut(&mut String)) {
    match value {
        Value::String(text) => f(text),
        Value::Array(items) => items.iter_mut().for_each(|item| for_each_string(item, f)),
        Value::Object(fields) => fields
            .values_mut()
            .for_each(|item| for_each_string(item, f)),
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_show_their_initial_only() {
        assert_eq!(mask_name("Alice Smith"), "A•••");
        assert_eq!(mask_name("  bob "), "b•••");
        assert_eq!(
            mask_name("X"),
            "X•••",
            "a one-letter name is not told apart"
        );
    }

    #[test]
    fn non_ascii_names_keep_a_whole_character() {
        assert_eq!(mask_name("Ärzteкамера"), "Ä•••");
        assert_eq!(mask_name("Яна Петрова"), "Я•••");
        assert_eq!(mask_name("李小龍"), "李•••");
        assert_eq!(mask_name("José"), "J•••");
    }

    #[test]
    fn names_that_start_with_no_letter_show_nothing() {
        assert_eq!(mask_name(""), "•••");
        assert_eq!(mask_name("   "), "•••");
        assert_eq!(mask_name("\u{202e}evil"), "•••", "no bidi control leaks");
        assert_eq!(mask_name("\"Quoted\""), "•••");
    }

    #[test]
    fn addresses_keep_the_domain_and_an_initial() {
        assert_eq!(mask_address("alice@example.com"), "a•••@example.com");
        assert_eq!(
            mask_address("alice.smith+orders@shop.example"),
            "a•••@shop.example"
        );
        assert_eq!(mask_address("jörg@bücher.example"), "j•••@bücher.example");
    }

    #[test]
    fn short_local_parts_do_not_reveal_their_length() {
        assert_eq!(mask_address("a@example.com"), "a•••@example.com");
        assert_eq!(mask_address("ab@example.com"), "a•••@example.com");
        assert_eq!(mask_address("@example.com"), "•••@example.com");
    }

    #[test]
    fn text_without_at_is_masked_like_a_name() {
        assert_eq!(mask_address("alice"), "a•••");
        assert_eq!(mask_address(""), "•••");
        // Only the last @ separates the domain.
        assert_eq!(mask_address("\"a@b\"@example.com"), "•••@example.com");
    }

    #[test]
    fn addresses_inside_text_are_found_and_masked() {
        assert_eq!(
            mask_addresses_in("Write to alice@example.com, or bob@test.example."),
            "Write to a•••@example.com, or b•••@test.example."
        );
        assert_eq!(
            mask_addresses_in("From: Alice <alice@example.com>"),
            "From: Alice <a•••@example.com>"
        );
        assert_eq!(
            mask_addresses_in(r#"<a href="mailto:alice@example.com">x</a>"#),
            r#"<a href="mailto:a•••@example.com">x</a>"#
        );
        assert_eq!(
            mask_addresses_in("&lt;zoë@bücher.example&gt;"),
            "&lt;z•••@bücher.example&gt;"
        );
    }

    #[test]
    fn text_without_addresses_is_not_copied() {
        assert!(matches!(
            mask_addresses_in("no address @ all, a@ or @b"),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn masking_twice_changes_nothing_more() {
        let once = mask_addresses_in("alice@example.com").into_owned();
        assert_eq!(mask_addresses_in(&once), once);
    }

    #[test]
    fn json_strings_are_masked_at_any_depth_but_keys_are_kept() {
        let mut data = json!({
            "recipients": ["alice@example.com", "support@relay.example"],
            "nested": {"to": "Bob <bob@example.com>", "count": 2},
            "carol@example.com": null,
        });
        mask_addresses_in_json(&mut data);
        assert_eq!(
            data,
            json!({
                "recipients": ["a•••@example.com", "s•••@relay.example"],
                "nested": {"to": "Bob <b•••@example.com>", "count": 2},
                "carol@example.com": null,
            })
        );
    }
}
