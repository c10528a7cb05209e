//! The reference daemon's output file name,
//! `FWS<NN>_<range>_n<num>_<YYYYMMDD-HHMM>.h5`.

use chrono::NaiveDateTime;
use std::fmt;
use thiserror::Error;

/// A scanner index, 0 to 99 (two digits in file names and prefixes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct ScannerIndex(u8);

/// An index outside 0..=99.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("scanner index {0} is outside 0..99")]
pub struct ScannerIndexError(pub i64);

impl ScannerIndex {
    /// Largest valid index.
    pub const MAX: u8 = 99;

    /// The index as a number.
    pub fn get(self) -> u8 {
        self.0
    }
}

impl TryFrom<i64> for ScannerIndex {
    type Error = ScannerIndexError;

    fn try_from(value: i64) -> Result<Self, Self::Error> {
        match u8::try_from(value) {
            Ok(v) if v <= Self::MAX => Ok(Self(v)),
            _ => Err(ScannerIndexError(value)),
        }
    }
}

impl fmt::Display for ScannerIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// The reference's range text: `f"{start:.1f}_{end:.1f}".replace(".0", "")`,
/// or `fix` without a range.
pub fn range_text(range: Option<(f64, f64)>) -> String {
    match range {
        None => "fix".to_string(),
        Some((start, end)) => format!("{start:.1}_{end:.1}").replace(".0", ""),
    }
}

/// `FWS<NN>_<range>_n<num>_<YYYYMMDD-HHMM>.h5`; `n?` when the count is
/// unknown, as in the reference.
pub fn file_name(
    scanner: ScannerIndex,
    range: Option<(f64, f64)>,
    num_scans: Option<u32>,
    stamp: NaiveDateTime,
) -> String {
    let count = num_scans.map_or_else(|| "n?".to_string(), |n| format!("n{n}"));
    format!(
        "FWS{:02}_{}_{}_{}.h5",
        scanner.get(),
        range_text(range),
        count,
        stamp.format("%Y%m%d-%H%M")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn stamp() -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2025, 2, 17)
            .and_then(|d| d.and_hms_opt(14, 30, 59))
            .expect("valid date")
    }

    #[test]
    fn reference_example() {
        let index = ScannerIndex::try_from(1).unwrap();
        assert_eq!(
            file_name(index, Some((0.0, 10.0)), Some(3), stamp()),
            "FWS01_0_10_n3_20250217-1430.h5"
        );
        assert_eq!(
            file_name(index, None, None, stamp()),
            "FWS01_fix_n?_20250217-1430.h5"
        );
    }

    #[test]
    fn range_text_rules() {
        assert_eq!(range_text(Some((-2.0, 0.5))), "-2_0.5");
        assert_eq!(range_text(Some((10.0, 100.0))), "10_100");
        assert_eq!(range_text(Some((-0.04, 0.04))), "-0_0");
        // Python rounds the exact binary value: 2.25 is a tie, to even.
        assert_eq!(range_text(Some((2.25, 2.35))), "2.2_2.4");
        assert_eq!(
            range_text(Some((1e20, 2e20))),
            "100000000000000000000_200000000000000000000"
        );
    }

    #[test]
    fn scanner_index_bounds() {
        assert!(ScannerIndex::try_from(-1).is_err());
        assert!(ScannerIndex::try_from(100).is_err());
        assert_eq!(ScannerIndex::try_from(99).unwrap().get(), 99);
        assert_eq!(
            file_name(
                ScannerIndex::try_from(7).unwrap(),
                Some((1.0, 2.0)),
                Some(0),
                stamp()
            ),
            "FWS07_1_2_n0_20250217-1430.h5"
        );
    }
}
