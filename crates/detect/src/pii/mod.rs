//! Personal data, found by pattern and confirmed by validators (Luhn, mod-97, SSN allocation
//! rules, octet ranges, calendar dates), each with a type, span and confidence.

mod address;
mod card;
mod dob;
mod email;
mod iban;
mod ip;
mod phone;
mod ssn;

pub use address::StreetAddress;
pub use card::CreditCard;
pub use dob::DateOfBirth;
pub use email::Email;
pub use iban::Iban;
pub use ip::IpAddress;
pub use phone::Phone;
pub use ssn::Ssn;

pub(crate) use dob::CONTEXT as BIRTH_WORDS;
pub(crate) use ssn::CONTEXT as SSN_WORDS;

/// The ASCII digits of `s`.
pub(crate) fn digits(s: &str) -> Vec<u8> {
    s.bytes()
        .filter(u8::is_ascii_digit)
        .map(|b| b - b'0')
        .collect()
}

/// Whether `text[start..end]` stands alone: not glued to letters, digits or more of a number.
pub(crate) fn standalone(text: &str, start: usize, end: usize) -> bool {
    let before = text.get(..start).and_then(|s| s.chars().next_back());
    let after = text.get(end..).and_then(|s| s.chars().next());
    let glued = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
    let after_num = text.get(end..).is_some_and(|s| {
        let mut it = s.chars();
        matches!((it.next(), it.next()), (Some('.' | ',' | '-' | '/'), Some(d)) if d.is_ascii_digit())
    });
    let before_num = text.get(..start).is_some_and(|s| {
        let mut it = s.chars().rev();
        matches!((it.next(), it.next()), (Some('.' | '-' | '/'), Some(d)) if d.is_ascii_digit())
    });
    !glued(before) && !glued(after) && !after_num && !before_num
}

/// Whether one of `words` occurs (lowercased) within `window` bytes before `start`.
pub(crate) fn context_before(text: &str, start: usize, window: usize, words: &[&str]) -> bool {
    let mut from = start.saturating_sub(window);
    while !text.is_char_boundary(from) {
        from -= 1;
    }
    let ctx = text.get(from..start).unwrap_or("").to_lowercase();
    words.iter().any(|w| ctx.contains(w))
}

#[cfg(test)]
#[path = "pii_tests.rs"]
mod tests;
