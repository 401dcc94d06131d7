//! Humane durations for the configuration file (`"10s"`, `"7d"`, `"1h30m"`): the spec writes its
//! defaults this way and tests shrink them the same way (`dunning_grace = "10s"`).

use std::time::Duration;

/// Parses one or more `<integer><unit>` parts, units `ms`, `s`, `m`, `h`, `d` (e.g. `90s`,
/// `1h30m`, `7d`). Returns a short reason on failure; the caller names the key.
pub fn parse(raw: &str) -> Result<Duration, String> {
    let text = raw.trim();
    let bad = || format!("{raw:?} is not a duration like 500ms, 10s, 5m, 72h or 7d");
    if text.is_empty() {
        return Err(bad());
    }
    let mut total = Duration::ZERO;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
        if digits == 0 {
            return Err(bad());
        }
        let (number, tail) = rest.split_at(digits);
        let unit_len = tail
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(tail.len());
        let (unit, next) = tail.split_at(unit_len);
        let n: u64 = number.parse().map_err(|_| bad())?;
        let secs_per_unit: Option<u64> = match unit {
            "ms" => None,
            "s" => Some(1),
            "m" => Some(60),
            "h" => Some(3600),
            "d" => Some(86_400),
            _ => return Err(bad()),
        };
        let part = match secs_per_unit {
            None => Duration::from_millis(n),
            Some(k) => Duration::from_secs(n.checked_mul(k).ok_or_else(bad)?),
        };
        total = total.checked_add(part).ok_or_else(bad)?;
        rest = next;
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_and_combinations_parse() {
        let cases = [
            ("500ms", Duration::from_millis(500)),
            ("1s", Duration::from_secs(1)),
            ("60s", Duration::from_secs(60)),
            ("5m", Duration::from_secs(300)),
            ("72h", Duration::from_secs(72 * 3600)),
            ("7d", Duration::from_secs(7 * 86_400)),
            ("1h30m", Duration::from_secs(5400)),
            (" 0s ", Duration::ZERO),
        ];
        for (text, want) in cases {
            assert_eq!(parse(text), Ok(want), "{text}");
        }
    }

    #[test]
    fn malformed_durations_are_refused() {
        for text in [
            "",
            "10",
            "s",
            "10x",
            "1.5h",
            "-1s",
            "10 s",
            "h1",
            "99999999999999999999d",
        ] {
            let err = parse(text).unwrap_err();
            assert!(err.contains("is not a duration"), "{text}: {err}");
        }
    }
}
