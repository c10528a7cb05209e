//! The parameter registry: what each Watlow parameter is, where it sits on
//! each protocol, and what may be written to it. The table is data
//! (`registry/pm.csv`, `registry/families.csv`, from the register list in
//! the spec) compiled in by `build.rs`; this module only looks it up and
//! refuses, before any I/O, what the device would refuse or what would
//! wear its EEPROM for nothing.

use crate::stdbus::Selector;

/// How the value is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataType {
    /// IEEE single (two Modbus registers).
    F32,
    /// Signed 16-bit (one register).
    S16,
    /// Signed 32-bit (two registers).
    S32,
    /// Unsigned 8-bit (one register).
    U8,
    /// Unsigned 16-bit (one register).
    U16,
    /// An enumeration (one register; Standard Bus tag 0F).
    Enum,
    /// Text (Standard Bus only).
    Str,
}

impl DataType {
    /// Modbus registers it spans.
    pub fn registers(self) -> u16 {
        match self {
            Self::F32 | Self::S32 => 2,
            Self::S16 | Self::U8 | Self::U16 | Self::Enum => 1,
            Self::Str => 8,
        }
    }
}

/// Watlow's access letters: Read, Write, EEPROM (saved), user Set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rwes {
    /// Read only.
    R,
    /// Read and write, not saved.
    Rw,
    /// Written to EEPROM.
    Rwe,
    /// Written to EEPROM, a user setting.
    Rwes,
}

impl Rwes {
    /// Whether a write is accepted at all.
    pub fn writable(self) -> bool {
        self != Self::R
    }

    /// Whether each write wears the EEPROM (about a million writes).
    pub fn persistent(self) -> bool {
        matches!(self, Self::Rwe | Self::Rwes)
    }
}

/// What the value measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnitKind {
    /// A temperature, in the wire's unit (°F unless the site says).
    Temperature,
    /// Percent.
    Percent,
    /// One of a list of codes.
    Enumeration,
    /// A count or an address.
    Dimensionless,
    /// Text.
    String,
}

/// Where an EZ-ZONE PM keeps a parameter on Modbus (Map 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModbusPlace {
    /// Relative (0-based) address of instance 1.
    pub register: u16,
    /// Added per further instance.
    pub step: u16,
}

/// One parameter of the EZ-ZONE PM.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ParamSpec {
    /// Watlow's id (4001).
    pub id: u32,
    /// Canonical name (`process_value`).
    pub name: &'static str,
    /// Other names it answers to (`pv`).
    pub aliases: &'static [&'static str],
    /// Storage type.
    pub dtype: DataType,
    /// Access.
    pub rwes: Rwes,
    /// What it measures.
    pub unit: UnitKind,
    /// Loops or channels (instances 1..=instances).
    pub instances: u8,
    /// Its Modbus place, `None` when it is Standard Bus only.
    pub modbus: Option<ModbusPlace>,
    /// Lowest value a write may take.
    pub min: Option<f64>,
    /// Highest value a write may take.
    pub max: Option<f64>,
}

/// A controller family on Modbus.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// EZ-ZONE PM (the full table).
    Pm,
    /// Series F4.
    F4,
    /// Series F4P.
    F4p,
    /// Series SD.
    Sd,
}

/// How a family's integer register becomes the value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Scale {
    /// value = register * factor.
    Fixed(f64),
    /// The number of decimals (0..3) is read from this register.
    DecimalsAt(u16),
}

/// Where another family keeps a PM parameter's counterpart.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FamilyPlace {
    /// The family.
    pub family: Family,
    /// The PM parameter it stands for (4001, 7001).
    pub parameter: u32,
    /// Its register.
    pub register: u16,
    /// S16 or S32 (high word first).
    pub dtype: DataType,
    /// Its scaling.
    pub scale: Scale,
    /// Access on that family.
    pub rwes: Rwes,
}

include!(concat!(env!("OUT_DIR"), "/registry.rs"));

/// Why a request was refused before any I/O.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Refusal {
    /// No parameter of that name, alias or id.
    #[error("no parameter {0:?} in the registry")]
    Unknown(String),
    /// A read-only parameter.
    #[error("{name} ({id}) is read-only")]
    ReadOnly {
        /// Canonical name.
        name: &'static str,
        /// Id.
        id: u32,
    },
    /// Outside the listed range.
    #[error("{value} is outside {name}'s range {min}..{max}")]
    OutOfRange {
        /// Canonical name.
        name: &'static str,
        /// The value asked.
        value: f64,
        /// Lowest allowed.
        min: f64,
        /// Highest allowed.
        max: f64,
    },
    /// Not a number, or not a whole number for an integer parameter.
    #[error("{value} is not a valid {name} value")]
    NotRepresentable {
        /// Canonical name.
        name: &'static str,
        /// The value asked.
        value: f64,
    },
    /// An instance the parameter does not have.
    #[error("{name} has instances 1..={instances}, not {instance}")]
    NoInstance {
        /// Canonical name.
        name: &'static str,
        /// Asked.
        instance: u8,
        /// It has.
        instances: u8,
    },
    /// A device address outside the protocol's range.
    #[error("address {address} is outside 1..={max}")]
    Address {
        /// Asked.
        address: u8,
        /// Highest on this protocol.
        max: u8,
    },
    /// Not reachable on Modbus (Standard Bus only, or not on the family).
    #[error("{name} is not on Modbus for this family")]
    NotOnModbus {
        /// Canonical name.
        name: &'static str,
    },
}

/// A PM parameter by canonical name, alias (either without case) or id
/// (`"4001"`).
pub fn find(key: &str) -> Result<&'static ParamSpec, Refusal> {
    let key = key.trim();
    let by_id = key.parse::<u32>().ok();
    PM.iter()
        .find(|p| {
            Some(p.id) == by_id
                || p.name.eq_ignore_ascii_case(key)
                || p.aliases.iter().any(|a| a.eq_ignore_ascii_case(key))
        })
        .ok_or_else(|| Refusal::Unknown(key.to_string()))
}

impl ParamSpec {
    /// Its Standard Bus selector at `instance`, checked.
    pub fn selector(&self, instance: u8) -> Result<Selector, Refusal> {
        self.check_instance(instance)?;
        // build.rs proved every id has class and member bytes.
        Selector::of(self.id, instance).ok_or(Refusal::Unknown(self.id.to_string()))
    }

    /// Its first Modbus register at `instance` on an EZ-ZONE PM.
    pub fn pm_register(&self, instance: u8) -> Result<u16, Refusal> {
        self.check_instance(instance)?;
        let place = self
            .modbus
            .ok_or(Refusal::NotOnModbus { name: self.name })?;
        Ok(place.register + u16::from(instance - 1) * place.step)
    }

    fn check_instance(&self, instance: u8) -> Result<(), Refusal> {
        if (1..=self.instances).contains(&instance) {
            Ok(())
        } else {
            Err(Refusal::NoInstance {
                name: self.name,
                instance,
                instances: self.instances,
            })
        }
    }

    /// Checks a write of `value` to `instance`: writable, in range, a
    /// value the type holds. Nothing is sent when this refuses.
    pub fn check_write(&self, instance: u8, value: f64) -> Result<(), Refusal> {
        self.check_instance(instance)?;
        if !self.rwes.writable() {
            return Err(Refusal::ReadOnly {
                name: self.name,
                id: self.id,
            });
        }
        let whole = value.fract() == 0.0;
        let fits = match self.dtype {
            DataType::F32 => value.is_finite() && value.abs() <= f64::from(f32::MAX),
            DataType::U8 => whole && (0.0..=255.0).contains(&value),
            DataType::U16 | DataType::Enum => whole && (0.0..=65535.0).contains(&value),
            DataType::S16 => whole && (-32768.0..=32767.0).contains(&value),
            DataType::S32 => whole && (-2_147_483_648.0..=2_147_483_647.0).contains(&value),
            DataType::Str => false,
        };
        if !fits {
            return Err(Refusal::NotRepresentable {
                name: self.name,
                value,
            });
        }
        let (min, max) = (
            self.min.unwrap_or(f64::NEG_INFINITY),
            self.max.unwrap_or(f64::INFINITY),
        );
        if value < min || value > max {
            return Err(Refusal::OutOfRange {
                name: self.name,
                value,
                min,
                max,
            });
        }
        Ok(())
    }
}

/// Where `family` keeps PM parameter `id` on Modbus, if it has it.
pub fn family_place(family: Family, id: u32) -> Option<&'static FamilyPlace> {
    FAMILIES
        .iter()
        .find(|p| p.family == family && p.parameter == id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_aliases_and_ids_find_the_same_row() {
        for key in ["process_value", "PV", "process_val", "4001"] {
            assert_eq!(find(key).unwrap().id, 4001, "{key}");
        }
        assert_eq!(find("Set_Point").unwrap().name, "setpoint");
        assert_eq!(find("out_pct").unwrap().id, 8011);
        assert!(matches!(find("pressure"), Err(Refusal::Unknown(_))));
    }

    #[test]
    fn the_registers_are_the_register_lists() {
        let pv = find("pv").unwrap();
        assert_eq!(pv.pm_register(1), Ok(360));
        assert_eq!(pv.pm_register(2), Ok(440));
        assert_eq!(find("sp").unwrap().pm_register(2), Ok(2240));
        assert_eq!(find("word_order").unwrap().pm_register(1), Ok(2488));
        assert!(matches!(
            find("part_number").unwrap().pm_register(1),
            Err(Refusal::NotOnModbus { .. })
        ));
        assert_eq!(find("26").err(), Some(Refusal::Unknown("26".into())));
        let sel = find("heat_algorithm").unwrap().selector(2).unwrap();
        assert_eq!((sel.class, sel.member, sel.instance), (8, 3, 2));
    }

    #[test]
    fn writes_are_refused_before_any_io() {
        let sp = find("sp").unwrap();
        assert_eq!(sp.check_write(1, 75.0), Ok(()));
        assert!(matches!(
            sp.check_write(1, 10_000.0),
            Err(Refusal::OutOfRange { .. })
        ));
        assert!(matches!(
            sp.check_write(1, f64::NAN),
            Err(Refusal::NotRepresentable { .. })
        ));
        assert!(matches!(
            sp.check_write(3, 75.0),
            Err(Refusal::NoInstance { .. })
        ));
        assert!(matches!(
            find("pv").unwrap().check_write(1, 75.0),
            Err(Refusal::ReadOnly { id: 4001, .. })
        ));
        let address = find("stdbus_address").unwrap();
        assert!(matches!(
            address.check_write(1, 17.0),
            Err(Refusal::OutOfRange { .. })
        ));
        assert!(matches!(
            address.check_write(1, 2.5),
            Err(Refusal::NotRepresentable { .. })
        ));
        assert!(find("heat_algorithm").unwrap().check_write(1, 71.0).is_ok());
    }

    #[test]
    fn other_families_have_their_own_places() {
        let f4 = family_place(Family::F4, 7001).unwrap();
        assert_eq!((f4.register, f4.scale), (300, Scale::Fixed(0.1)));
        assert_eq!(
            family_place(Family::F4p, 4001).unwrap().scale,
            Scale::DecimalsAt(606)
        );
        assert!(!family_place(Family::F4p, 7001).unwrap().rwes.writable());
        let sd = family_place(Family::Sd, 4001).unwrap();
        assert_eq!((sd.register, sd.dtype), (20, DataType::S32));
        assert_eq!(family_place(Family::Sd, 8003), None);
    }

    #[test]
    fn every_row_is_consistent() {
        for p in PM {
            assert!(Selector::of(p.id, 1).is_some(), "{}", p.id);
            assert!(p.instances >= 1, "{}", p.name);
            if let (Some(min), Some(max)) = (p.min, p.max) {
                assert!(min < max, "{}", p.name);
            }
            let dups = PM
                .iter()
                .filter(|q| q.id == p.id || q.name == p.name)
                .count();
            assert_eq!(dups, 1, "{} twice", p.name);
        }
    }
}
