//! How a 32-bit value spans two 16-bit registers. Watlow documents low word
//! first (the register list's default for parameter 17043) while watlowlib
//! and its fixture use high word first: the order is configured or read
//! from register 2488, whose one-register value does not depend on it.

/// Which register holds the high word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WordOrder {
    /// Low word at the lower address (Watlow's default, 17043 = 1331).
    LowHigh,
    /// High word at the lower address (17043 = 1330).
    HighLow,
}

/// The order a device is configured with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WordOrderSetting {
    /// Always low word first.
    LowHigh,
    /// Always high word first.
    HighLow,
    /// Read register 2488 on connect; low word first when it cannot be read.
    #[default]
    Auto,
}

/// The register that says the order (parameter 17043).
pub const WORD_ORDER_REGISTER: u16 = 2488;

impl WordOrder {
    /// The order register 2488's value names, if it names one.
    pub fn from_register(value: u16) -> Option<Self> {
        match value {
            1330 => Some(Self::HighLow),
            1331 => Some(Self::LowHigh),
            _ => None,
        }
    }

    /// The register value that names this order.
    pub fn register_value(self) -> u16 {
        match self {
            Self::HighLow => 1330,
            Self::LowHigh => 1331,
        }
    }

    /// A 32-bit pattern as two registers, in address order.
    pub fn split(self, bits: u32) -> [u16; 2] {
        let (high, low) = ((bits >> 16) as u16, bits as u16);
        match self {
            Self::LowHigh => [low, high],
            Self::HighLow => [high, low],
        }
    }

    /// Two registers, in address order, as the 32-bit pattern.
    pub fn join(self, words: [u16; 2]) -> u32 {
        let (high, low) = match self {
            Self::LowHigh => (words[1], words[0]),
            Self::HighLow => (words[0], words[1]),
        };
        (u32::from(high) << 16) | u32::from(low)
    }

    /// A float as two registers.
    pub fn f32_words(self, value: f32) -> [u16; 2] {
        self.split(value.to_bits())
    }

    /// Two registers as a float.
    pub fn words_f32(self, words: [u16; 2]) -> f32 {
        f32::from_bits(self.join(words))
    }
}

impl WordOrderSetting {
    /// The order to use: the configured one, or for `Auto` the one register
    /// 2488 named (`detected`), else low word first.
    pub fn resolve(self, detected: Option<u16>) -> WordOrder {
        match self {
            Self::LowHigh => WordOrder::LowHigh,
            Self::HighLow => WordOrder::HighLow,
            Self::Auto => detected
                .and_then(WordOrder::from_register)
                .unwrap_or(WordOrder::LowHigh),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Spec 3.3/3.4: 75.0 written low word first is 0000 4296; 78.296 read
    /// low word first is 977D 429C (the manual's "78.20407867" is wrong).
    #[test]
    fn the_documented_words() {
        assert_eq!(WordOrder::LowHigh.f32_words(75.0), [0x0000, 0x4296]);
        assert_eq!(WordOrder::HighLow.f32_words(75.0), [0x4296, 0x0000]);
        assert_eq!(WordOrder::HighLow.words_f32([0x43C4, 0x0000]), 392.0);
        let v = WordOrder::LowHigh.words_f32([0x977D, 0x429C]);
        assert!((v - 78.2959).abs() < 1e-4, "{v}");
    }

    #[test]
    fn auto_follows_register_2488_or_falls_back_to_low_high() {
        let auto = WordOrderSetting::Auto;
        assert_eq!(auto.resolve(Some(1330)), WordOrder::HighLow);
        assert_eq!(auto.resolve(Some(1331)), WordOrder::LowHigh);
        assert_eq!(auto.resolve(Some(7)), WordOrder::LowHigh);
        assert_eq!(auto.resolve(None), WordOrder::LowHigh);
        assert_eq!(
            WordOrderSetting::HighLow.resolve(Some(1331)),
            WordOrder::HighLow
        );
        for order in [WordOrder::LowHigh, WordOrder::HighLow] {
            assert_eq!(
                WordOrder::from_register(order.register_value()),
                Some(order)
            );
            assert_eq!(order.join(order.split(0xDEAD_BEEF)), 0xDEAD_BEEF);
        }
    }
}
