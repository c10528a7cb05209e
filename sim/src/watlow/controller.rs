//! One simulated EZ-ZONE PM: every registry parameter in a typed store,
//! and a plant whose process value relaxes toward the setpoint.

use rand::rngs::StdRng;
use rand::SeedableRng;
use rand_distr::{Distribution, Normal};
use std::collections::HashMap;
use std::time::Duration;
use watlow::registry::{DataType, Rwes, PM};
use watlow::stdbus::{Reply, Request, Selector, Typed};

/// The process value an open sensor reads (`45 1E 3C D4`, about 2531.8).
pub const OPEN_SENSOR_PV: u32 = 0x451E_3CD4;
/// Input Error (4002) codes: none, open.
const INPUT_OK: u16 = 61;
const INPUT_OPEN: u16 = 65;

/// The process value's dynamics: first order toward the setpoint.
#[derive(Debug, Clone)]
pub struct Plant {
    /// Time constant.
    pub tau: Duration,
    /// Standard deviation of the noise added to each reading.
    pub noise: f64,
    rng: StdRng,
}

impl Plant {
    /// A plant with time constant `tau`, reading noise `noise`, seeded.
    pub fn new(tau: Duration, noise: f64, seed: u64) -> Self {
        Self {
            tau,
            noise,
            rng: StdRng::seed_from_u64(seed),
        }
    }

    fn relax(&self, pv: f64, sp: f64, dt: Duration) -> f64 {
        let tau = self.tau.as_secs_f64();
        if tau <= 0.0 {
            return sp;
        }
        sp + (pv - sp) * (-dt.as_secs_f64() / tau).exp()
    }

    fn noisy(&mut self, value: f64) -> f64 {
        match Normal::new(0.0, self.noise) {
            Ok(n) if self.noise > 0.0 => value + n.sample(&mut self.rng),
            _ => value,
        }
    }
}

struct Entry {
    value: Typed,
    writable: bool,
}

/// One controller: its parameters and plant.
pub struct Controller {
    store: HashMap<(u8, u8, u8), Entry>,
    classes: Vec<u8>,
    plant: Plant,
    /// The true process value of each loop (a reading adds noise).
    pv: Vec<f64>,
    /// The sensor is open: PV reads the open-sensor value, 4002 says 65.
    pub sensor_failed: bool,
}

/// A parameter's factory value in the simulator.
fn factory(id: u32, dtype: DataType, address: u8) -> Typed {
    match (id, dtype) {
        (1001, _) => Typed::S32(28),
        (1002, _) => Typed::S32(5678),
        (1009, _) => Typed::Str("PM3R1CA-AAAAAAA".into()),
        (7001, _) => Typed::F32(75.0),
        (4002, _) => Typed::enumeration(INPUT_OK),
        (4005, _) => Typed::enumeration(95),
        (8001, _) => Typed::enumeration(10),
        (8003, _) => Typed::enumeration(71),
        (17001, _) => Typed::U8(address),
        (17007, _) => Typed::U8(1),
        (17002, _) => Typed::enumeration(188),
        (17003, _) => Typed::enumeration(61),
        (17009, _) => Typed::enumeration(1286),
        (17043, _) => Typed::enumeration(1331),
        (17050, _) => Typed::enumeration(30),
        (17051, _) => Typed::enumeration(106),
        (_, DataType::F32) => Typed::F32(0.0),
        (_, DataType::S32) => Typed::S32(0),
        (_, DataType::U8) => Typed::U8(0),
        (_, DataType::U16 | DataType::S16) => Typed::U16(0),
        (_, DataType::Enum) => Typed::enumeration(0),
        (_, DataType::Str) => Typed::Str(String::new()),
    }
}

impl Controller {
    /// A PM at Standard Bus `address` with every registry parameter at its
    /// factory value, the process value starting at `pv`.
    pub fn pm(address: u8, pv: f64, plant: Plant) -> Self {
        let mut store = HashMap::new();
        for spec in PM {
            for instance in 1..=spec.instances {
                if let Some(sel) = Selector::of(spec.id, instance) {
                    store.insert(
                        (sel.class, sel.member, instance),
                        Entry {
                            value: factory(spec.id, spec.dtype, address),
                            writable: spec.rwes != Rwes::R,
                        },
                    );
                }
            }
        }
        let loops = PM
            .iter()
            .find(|p| p.id == 4001)
            .map_or(1, |p| usize::from(p.instances));
        let mut classes: Vec<u8> = store.keys().map(|k| k.0).collect();
        classes.sort_unstable();
        classes.dedup();
        Self {
            store,
            classes,
            plant,
            pv: vec![pv; loops],
            sensor_failed: false,
        }
    }

    /// Lets `dt` of plant time pass on every loop (the shell passes real
    /// time; tests their own).
    pub fn advance(&mut self, dt: Duration) {
        for (i, pv) in self.pv.iter_mut().enumerate() {
            let sp = match self.store.get(&(7, 1, i as u8 + 1)).map(|e| &e.value) {
                Some(Typed::F32(sp)) => f64::from(*sp),
                _ => *pv,
            };
            *pv = self.plant.relax(*pv, sp, dt);
        }
    }

    /// The true process value of loop 1 now.
    pub fn process_value(&self) -> f64 {
        self.pv[0]
    }

    /// A parameter's stored value (the process value is the plant's).
    pub fn stored(&self, id: u32, instance: u8) -> Option<&Typed> {
        let sel = Selector::of(id, instance)?;
        self.store
            .get(&(sel.class, sel.member, instance))
            .map(|e| &e.value)
    }

    /// The answer to a request: a value, an echo, or an error code (0x81
    /// no such class, 0x83 no such member, 0x84 no such instance, 0x80 a
    /// read-only parameter or a value of another type than the
    /// parameter's: the device's answer to the latter is unverified).
    pub fn answer(&mut self, request: &Request) -> Reply {
        let sel = request.selector();
        let key = (sel.class, sel.member, sel.instance);
        if !self.store.contains_key(&key) {
            let code = if !self.classes.contains(&sel.class) {
                0x81
            } else if self
                .store
                .keys()
                .any(|k| k.0 == sel.class && k.1 == sel.member)
            {
                0x84
            } else {
                0x83
            };
            return Reply::Error(code);
        }
        match request {
            Request::Read(_) => Reply::Read(sel, self.read(sel)),
            Request::Write(_, value) => {
                let Some(entry) = self.store.get_mut(&key) else {
                    return Reply::Error(0x84);
                };
                if !entry.writable || entry.value.tag() != value.tag() {
                    return Reply::Error(0x80);
                }
                entry.value = value.clone();
                Reply::Write(sel, value.clone())
            }
        }
    }

    fn read(&mut self, sel: Selector) -> Typed {
        match (sel.class, sel.member) {
            (4, 1) if self.sensor_failed => Typed::F32(f32::from_bits(OPEN_SENSOR_PV)),
            (4, 1) => {
                let pv = self.pv.get(usize::from(sel.instance) - 1).copied();
                Typed::F32(self.plant.noisy(pv.unwrap_or(0.0)) as f32)
            }
            (4, 2) if self.sensor_failed => Typed::enumeration(INPUT_OPEN),
            _ => self
                .store
                .get(&(sel.class, sel.member, sel.instance))
                .map(|e| e.value.clone())
                .unwrap_or(Typed::F32(0.0)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pm() -> Controller {
        Controller::pm(1, 20.0, Plant::new(Duration::from_secs(10), 0.0, 1))
    }

    #[test]
    fn the_plant_relaxes_toward_the_setpoint() {
        let mut c = pm();
        let sp = Selector::of(7001, 1).unwrap();
        c.answer(&Request::Write(sp, Typed::F32(30.0)));
        c.advance(Duration::from_secs(10));
        let expected = 30.0 - 10.0 * (-1.0_f64).exp();
        assert!((c.process_value() - expected).abs() < 1e-9);
        c.advance(Duration::from_secs(1000));
        assert!((c.process_value() - 30.0).abs() < 1e-9);
        // Loop 2 follows its own setpoint (75, untouched).
        let pv2 = Request::Read(Selector::of(4001, 2).unwrap());
        let Reply::Read(_, Typed::F32(v)) = c.answer(&pv2) else {
            panic!("loop 2")
        };
        assert!((f64::from(v) - 75.0).abs() < 1e-3, "{v}");
    }

    #[test]
    fn errors_follow_the_device() {
        let mut c = pm();
        let read = |id, inst| Request::Read(Selector::of(id, inst).unwrap());
        assert_eq!(c.answer(&read(99_001, 1)), Reply::Error(0x81));
        assert_eq!(c.answer(&read(4099, 1)), Reply::Error(0x83));
        assert_eq!(c.answer(&read(4001, 3)), Reply::Error(0x84));
        let pv = Selector::of(4001, 1).unwrap();
        assert_eq!(
            c.answer(&Request::Write(pv, Typed::F32(1.0))),
            Reply::Error(0x80)
        );
        let alg = Selector::of(8003, 1).unwrap();
        assert_eq!(
            c.answer(&Request::Write(alg, Typed::F32(62.0))),
            Reply::Error(0x80)
        );
        assert_eq!(
            c.answer(&Request::Write(alg, Typed::enumeration(62))),
            Reply::Write(alg, Typed::enumeration(62))
        );
        c.sensor_failed = true;
        assert_eq!(
            c.answer(&read(4001, 1)),
            Reply::Read(pv, Typed::F32(f32::from_bits(OPEN_SENSOR_PV)))
        );
    }
}
