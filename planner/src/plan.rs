//! Plans: the ordered steps of a scan, each with one position per axis.

use std::time::Duration;
use thiserror::Error;

/// Why a plan could not be made.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum PlanError {
    /// A start, end, list entry or current position is NaN or infinite.
    #[error("{what} ({value:?}) must be a finite number")]
    NotFinite {
        /// Which input.
        what: String,
        /// The value given.
        value: f64,
    },
    /// More steps than the configured limit.
    #[error("the plan has {steps} steps, more than the limit of {max}")]
    TooManySteps {
        /// Steps requested (saturating).
        steps: u64,
        /// The limit.
        max: u32,
    },
    /// A relative scan needs the current position.
    #[error("a relative scan needs the current position, which is not known")]
    MissingCurrentPosition,
    /// A grid without axes.
    #[error("a grid needs at least one axis")]
    NoAxes,
}

/// One axis of a grid: `num` points from `start` to `end` inclusive.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AxisRange {
    /// First position.
    pub start: f64,
    /// Last position.
    pub end: f64,
    /// Points on this axis.
    pub num: u32,
}

/// One step of a plan.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Step<'a> {
    /// 0-based position in the plan.
    pub index: usize,
    /// One position per axis.
    pub positions: &'a [f64],
}

/// Time a step costs, for the duration estimate.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct StepCosts {
    /// Fixed time per step (sweep, readout, writing).
    pub per_step: Duration,
    /// Extra time of the first step (e.g. the first sweep's homing).
    pub first_step_extra: Duration,
    /// Time per unit of travel between consecutive steps; axes move
    /// together, so the largest move of a step counts.
    pub per_unit_travel: Duration,
}

/// The ordered steps of a scan. Zero steps is a valid, empty plan.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    axes: usize,
    /// Step-major: the positions of step `i` are `flat[i*axes..(i+1)*axes]`.
    flat: Vec<f64>,
}

fn finite(what: impl Into<String>, value: f64) -> Result<f64, PlanError> {
    if value.is_finite() {
        Ok(value)
    } else {
        Err(PlanError::NotFinite {
            what: what.into(),
            value,
        })
    }
}

fn check_count(steps: u64, max_steps: u32) -> Result<(), PlanError> {
    if steps > u64::from(max_steps) {
        Err(PlanError::TooManySteps {
            steps,
            max: max_steps,
        })
    } else {
        Ok(())
    }
}

impl Plan {
    /// `num` evenly spaced positions from `start` to `end` inclusive, equal
    /// to `numpy.linspace` to the last bit (as the reference plans).
    pub fn linspace(start: f64, end: f64, num: u32, max_steps: u32) -> Result<Self, PlanError> {
        finite("start", start)?;
        finite("end", end)?;
        check_count(u64::from(num), max_steps)?;
        let positions = fitting::linspace(start, end, num as usize);
        for (i, &p) in positions.iter().enumerate() {
            finite(format!("position {i}"), p)?;
        }
        Ok(Self {
            axes: 1,
            flat: positions,
        })
    }

    /// The reference's relative scan: `start` and `end` shifted by the
    /// current position, then [`Plan::linspace`].
    pub fn relative(
        start: f64,
        end: f64,
        num: u32,
        current: Option<f64>,
        max_steps: u32,
    ) -> Result<Self, PlanError> {
        let current = finite(
            "current position",
            current.ok_or(PlanError::MissingCurrentPosition)?,
        )?;
        finite("start", start)?;
        finite("end", end)?;
        Self::linspace(start + current, end + current, num, max_steps)
    }

    /// The given positions, in the given order.
    pub fn list(positions: Vec<f64>, max_steps: u32) -> Result<Self, PlanError> {
        check_count(positions.len() as u64, max_steps)?;
        for (i, &p) in positions.iter().enumerate() {
            finite(format!("position {i}"), p)?;
        }
        Ok(Self {
            axes: 1,
            flat: positions,
        })
    }

    /// Every combination of the axes' points, the first axis slowest. With
    /// `snake`, each axis reverses direction whenever a slower axis steps, so
    /// consecutive steps differ by one point on one axis (no fly-back).
    pub fn grid(axes: &[AxisRange], snake: bool, max_steps: u32) -> Result<Self, PlanError> {
        if axes.is_empty() {
            return Err(PlanError::NoAxes);
        }
        let total = axes
            .iter()
            .fold(1u64, |acc, a| acc.saturating_mul(u64::from(a.num)));
        check_count(total, max_steps)?;
        if total == 0 {
            // Nothing to visit; and an axis may be huge beside an empty one.
            return Ok(Self {
                axes: axes.len(),
                flat: Vec::new(),
            });
        }
        let points: Vec<Vec<f64>> = axes
            .iter()
            .enumerate()
            .map(|(k, a)| {
                finite(format!("axis {k} start"), a.start)?;
                finite(format!("axis {k} end"), a.end)?;
                Ok(fitting::linspace(a.start, a.end, a.num as usize))
            })
            .collect::<Result<_, PlanError>>()?;
        let mut flat = Vec::with_capacity(total as usize * axes.len());
        for step in 0..total {
            // Mixed-radix digits of `step`, slowest axis first.
            let mut rest = step;
            let mut digits = vec![0u64; axes.len()];
            for k in (0..axes.len()).rev() {
                let n = u64::from(axes[k].num);
                digits[k] = rest % n;
                rest /= n;
            }
            // Axis k reverses when the number of completed sweeps of the
            // slower axes (the prefix's mixed-radix value) is odd.
            let mut prefix = 0u64;
            for k in 0..axes.len() {
                let n = u64::from(axes[k].num);
                let index = if snake && prefix % 2 == 1 {
                    n - 1 - digits[k]
                } else {
                    digits[k]
                };
                flat.push(points[k][index as usize]);
                prefix = prefix * n + digits[k];
            }
        }
        Ok(Self {
            axes: axes.len(),
            flat,
        })
    }

    /// Number of steps.
    pub fn len(&self) -> usize {
        self.flat.len().checked_div(self.axes).unwrap_or(0)
    }

    /// A plan without steps.
    pub fn is_empty(&self) -> bool {
        self.flat.is_empty()
    }

    /// Positions per step.
    pub fn axes(&self) -> usize {
        self.axes
    }

    /// Step `index`, if the plan has it.
    pub fn step(&self, index: usize) -> Option<Step<'_>> {
        let from = index.checked_mul(self.axes)?;
        self.flat
            .get(from..from + self.axes)
            .map(|positions| Step { index, positions })
    }

    /// The steps in order.
    pub fn steps(&self) -> impl Iterator<Item = Step<'_>> {
        self.flat
            .chunks_exact(self.axes.max(1))
            .enumerate()
            .map(|(index, positions)| Step { index, positions })
    }

    /// Expected duration: fixed cost per step, the first step's extra, and
    /// travel (the largest axis move between consecutive steps).
    pub fn estimate_duration(&self, costs: &StepCosts) -> Duration {
        if self.is_empty() {
            return Duration::ZERO;
        }
        let travel: f64 = self
            .flat
            .chunks_exact(self.axes)
            .zip(self.flat.chunks_exact(self.axes).skip(1))
            .map(|(a, b)| {
                a.iter()
                    .zip(b)
                    .map(|(p, q)| (q - p).abs())
                    .fold(0.0, f64::max)
            })
            .sum();
        let steps = self.len() as f64;
        // Costs and distances a caller chose can exceed what a Duration
        // holds: the estimate then saturates rather than panics.
        Duration::try_from_secs_f64(
            steps * costs.per_step.as_secs_f64()
                + costs.first_step_extra.as_secs_f64()
                + travel * costs.per_unit_travel.as_secs_f64(),
        )
        .unwrap_or(Duration::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linspace_plans() {
        let plan = Plan::linspace(0.0, 10.0, 3, 100).unwrap();
        let got: Vec<f64> = plan.steps().map(|s| s.positions[0]).collect();
        assert_eq!(got, vec![0.0, 5.0, 10.0]);
        assert_eq!(plan.step(2).unwrap().index, 2);
        assert!(plan.step(3).is_none());
        assert!(Plan::linspace(0.0, 1.0, 0, 100).unwrap().is_empty());
        assert!(matches!(
            Plan::linspace(0.0, 1.0, 101, 100),
            Err(PlanError::TooManySteps {
                steps: 101,
                max: 100
            })
        ));
        assert!(Plan::linspace(f64::NAN, 1.0, 3, 100).is_err());
        // Finite ends whose difference overflows.
        assert!(Plan::linspace(-1.7e308, 1.7e308, 3, 100).is_err());
    }

    #[test]
    fn relative_needs_the_current_position() {
        assert_eq!(
            Plan::relative(-1.0, 1.0, 3, None, 100),
            Err(PlanError::MissingCurrentPosition)
        );
        let plan = Plan::relative(-1.0, 1.0, 3, Some(10.0), 100).unwrap();
        let got: Vec<f64> = plan.steps().map(|s| s.positions[0]).collect();
        assert_eq!(got, vec![9.0, 10.0, 11.0]);
    }

    #[test]
    fn snake_grid_order() {
        let axes = [
            AxisRange {
                start: 0.0,
                end: 1.0,
                num: 2,
            },
            AxisRange {
                start: 0.0,
                end: 2.0,
                num: 3,
            },
        ];
        let plan = Plan::grid(&axes, true, 100).unwrap();
        let got: Vec<(f64, f64)> = plan
            .steps()
            .map(|s| (s.positions[0], s.positions[1]))
            .collect();
        assert_eq!(
            got,
            vec![
                (0.0, 0.0),
                (0.0, 1.0),
                (0.0, 2.0),
                (1.0, 2.0),
                (1.0, 1.0),
                (1.0, 0.0)
            ]
        );
        let plain = Plan::grid(&axes, false, 100).unwrap();
        assert_eq!(plain.step(3).unwrap().positions, &[1.0, 0.0]);
        assert_eq!(Plan::grid(&[], false, 10), Err(PlanError::NoAxes));
        let zero = [
            AxisRange {
                start: 0.0,
                end: 1.0,
                num: 1_000_000_000,
            },
            AxisRange {
                start: 0.0,
                end: 1.0,
                num: 0,
            },
        ];
        assert!(Plan::grid(&zero, true, 10).unwrap().is_empty());
    }

    #[test]
    fn duration_estimate() {
        let plan = Plan::list(vec![0.0, 2.0, 1.0], 10).unwrap();
        let costs = StepCosts {
            per_step: Duration::from_millis(100),
            first_step_extra: Duration::from_secs(1),
            per_unit_travel: Duration::from_millis(500),
        };
        // 3 x 0.1 + 1 + (2 + 1) x 0.5
        assert_eq!(plan.estimate_duration(&costs), Duration::from_millis(2800));
        assert_eq!(
            Plan::list(vec![], 10).unwrap().estimate_duration(&costs),
            Duration::ZERO
        );
        // Issue 11, A13: costs beyond what a Duration holds saturate.
        let huge = StepCosts {
            per_step: Duration::MAX,
            first_step_extra: Duration::MAX,
            per_unit_travel: Duration::MAX,
        };
        let far = Plan::list(vec![-1e300, 1e300], 10).unwrap();
        assert_eq!(far.estimate_duration(&huge), Duration::MAX);
    }
}
