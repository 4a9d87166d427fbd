//! The language a ticket is written in, detected from its text, for routing
//! rules and skill matching. Pure.

use whatlang::Lang;

/// Texts shorter than this (in characters) stay of unknown language: a
/// "Thanks!" or an order number says nothing reliable.
pub const MIN_CHARS: usize = 20;
/// The detector's confidence (0–1) below which the language stays unknown.
pub const MIN_CONFIDENCE: f64 = 0.5;

/// A BCP 47 primary language tag (`en`, `es`, `tl`) for `text`, or `None`
/// when the text is too short or the detector is unsure.
pub fn detect(text: &str) -> Option<String> {
    if text.chars().filter(|c| c.is_alphabetic()).count() < MIN_CHARS {
        return None;
    }
    let info = whatlang::detect(text)?;
    // whatlang's own `is_reliable` (0.9) refuses most one-paragraph
    // tickets; a lower floor with a minimum length keeps clear cases.
    if info.confidence() < MIN_CONFIDENCE {
        return None;
    }
    Some(tag(info.lang()).to_string())
}

/// The two-letter ISO 639-1 code where one exists (BCP 47 prefers it), else
/// the detector's ISO 639-3 code.
fn tag(lang: Lang) -> &'static str {
    use Lang::*;
    match lang {
        Epo => "eo",
        Eng => "en",
        Rus => "ru",
        Cmn => "zh",
        Spa => "es",
        Por => "pt",
        Ita => "it",
        Ben => "bn",
        Fra => "fr",
        Deu => "de",
        Ukr => "uk",
        Kat => "ka",
        Ara => "ar",
        Hin => "hi",
        Jpn => "ja",
        Heb => "he",
        Yid => "yi",
        Pol => "pl",
        Amh => "am",
        Jav => "jv",
        Kor => "ko",
        Nob => "nb",
        Dan => "da",
        Swe => "sv",
        Fin => "fi",
        Tur => "tr",
        Nld => "nl",
        Hun => "hu",
        Ces => "cs",
        Ell => "el",
        Bul => "bg",
        Bel => "be",
        Mar => "mr",
        Kan => "kn",
        Ron => "ro",
        Slv => "sl",
        Hrv => "hr",
        Srp => "sr",
        Mkd => "mk",
        Lit => "lt",
        Lav => "lv",
        Est => "et",
        Tam => "ta",
        Vie => "vi",
        Urd => "ur",
        Tha => "th",
        Guj => "gu",
        Uzb => "uz",
        Pan => "pa",
        Aze => "az",
        Ind => "id",
        Tel => "te",
        Pes => "fa",
        Mal => "ml",
        Ori => "or",
        Mya => "my",
        Nep => "ne",
        Sin => "si",
        Khm => "km",
        Tuk => "tk",
        Aka => "ak",
        Zul => "zu",
        Sna => "sn",
        Afr => "af",
        Lat => "la",
        Slk => "sk",
        Cat => "ca",
        Tgl => "tl",
        Hye => "hy",
        Cym => "cy",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clear_texts_get_their_language() {
        assert_eq!(
            detect("Hola, quiero devolver mi pedido porque llegó roto y nadie me responde.")
                .as_deref(),
            Some("es")
        );
        assert_eq!(detect("Hello, I would like a refund for my order. It arrived broken last week and nobody has answered my emails since then. Could you please help me with this?").as_deref(), Some("en"));
        assert_eq!(detect("Guten Tag, meine Bestellung ist leider beschädigt angekommen, bitte helfen Sie mir.").as_deref(), Some("de"));
    }

    #[test]
    fn short_or_unclear_texts_stay_unknown() {
        assert_eq!(detect("Thanks!"), None);
        assert_eq!(detect("INV-2026-0042 12345 #10042"), None);
        assert_eq!(detect(""), None);
    }

    #[test]
    fn every_detected_language_has_a_tag() {
        for lang in Lang::all() {
            let tag = tag(*lang);
            assert!(tag.len() == 2 || tag.len() == 3, "{lang:?}");
        }
    }
}
