//! Bounded nonlinear least squares on top of the `levenberg-marquardt`
//! crate (a MINPACK port), shared by every model in this crate.
//!
//! The crate factors the full m x n Jacobian every iteration. For a
//! 100k-point waveform that QR dominates, so the crate is handed an exactly
//! equivalent *compressed* problem instead: with `G = JᵀJ`, `g = Jᵀr`,
//! `J' = [R; 0]` where `RᵀR = G`, and `r' = [t; ρ]` where `Rᵀt = g` and
//! `|r'| = |r|`. Every quantity the LM algorithm uses (`JᵀJ`, `Jᵀr`, the
//! residual norm at trial points) is identical, so the iterates are the
//! same as on the full problem, and one pass over the data per evaluation
//! suffices.
//!
//! Bounds are handled by reflection: the crate works on an unbounded
//! internal parameter `u` and the model sees `p(u)`, `u` mirrored back into
//! the bounds. Like scipy's trust-region-reflective method, every evaluated
//! point is feasible.

use crate::lanes::LANES;
use levenberg_marquardt::{LeastSquaresProblem, LevenbergMarquardt, TerminationReason};
use nalgebra::storage::Owned;
use nalgebra::{Cholesky, DMatrix, DVector, Dyn, SMatrix, SVector, SymmetricEigen};

/// A model `f(x; p)` with `P` parameters and its analytic gradient.
pub(crate) trait Model<const P: usize>: Sync {
    /// Value and partial derivatives with respect to each parameter.
    fn value_and_gradient(&self, x: f64, p: &[f64; P], grad: &mut [f64; P]) -> f64;

    /// The same curve written canonically, if `p` is not (e.g. a width that
    /// only matters up to sign); the solver reports the canonical form.
    fn canonical(&self, _p: &[f64; P]) -> Option<[f64; P]> {
        None
    }

    /// The same for `LANES` points at once (`grad[k][lane]`); models with a
    /// costly inner function override it with a vectorisable version.
    #[inline(always)]
    fn value_and_gradient_lanes(
        &self,
        x: &[f64; LANES],
        p: &[f64; P],
        grad: &mut [[f64; LANES]; P],
    ) -> [f64; LANES] {
        let mut single = [0.0; P];
        std::array::from_fn(|lane| {
            let value = self.value_and_gradient(x[lane], p, &mut single);
            for (g, s) in grad.iter_mut().zip(&single) {
                g[lane] = *s;
            }
            value
        })
    }
}

/// Lower and upper bound of each parameter (infinite for none).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Bounds<const P: usize> {
    pub lower: [f64; P],
    pub upper: [f64; P],
}

impl<const P: usize> Bounds<P> {
    /// No bounds at all.
    pub fn none() -> Self {
        Self {
            lower: [f64::NEG_INFINITY; P],
            upper: [f64::INFINITY; P],
        }
    }
}

/// Maps an unbounded internal value `u` into the bounds by reflecting it
/// off them (`p = lo + |u - lo|`), the idea behind scipy's
/// trust-region-reflective method. Unlike a smooth squashing transform it
/// creates no stationary points of its own: the search cannot get stuck on
/// a bound unless the optimum really lies there.
#[derive(Debug, Clone, Copy)]
enum Transform {
    Free,
    Lower(f64),
    Upper(f64),
    Both(f64, f64),
    /// Pinned on a bound: `dp/du = 0`, so the solver leaves it alone.
    Fixed(f64),
}

impl Transform {
    fn new(lo: f64, hi: f64) -> Self {
        match (lo.is_finite(), hi.is_finite()) {
            (false, false) => Transform::Free,
            (true, false) => Transform::Lower(lo),
            (false, true) => Transform::Upper(hi),
            (true, true) => Transform::Both(lo, hi),
        }
    }

    /// External value and its derivative `dp/du` (±1, or 0 when pinned).
    fn external(self, u: f64) -> (f64, f64) {
        match self {
            Transform::Fixed(p) => (p, 0.0),
            Transform::Free => (u, 1.0),
            Transform::Lower(lo) => {
                if u >= lo {
                    (u, 1.0)
                } else {
                    (lo + (lo - u), -1.0)
                }
            }
            Transform::Upper(hi) => {
                if u <= hi {
                    (u, 1.0)
                } else {
                    (hi - (u - hi), -1.0)
                }
            }
            Transform::Both(lo, hi) => {
                let width = hi - lo;
                let t = (u - lo).rem_euclid(2.0 * width);
                if t <= width {
                    (lo + t, 1.0)
                } else {
                    (lo + (2.0 * width - t), -1.0)
                }
            }
        }
    }

    /// Internal value of an external `p`: `p` itself, clamped into the bounds.
    fn internal(self, p: f64) -> f64 {
        match self {
            Transform::Fixed(_) | Transform::Free => p,
            Transform::Lower(lo) => p.max(lo),
            Transform::Upper(hi) => p.min(hi),
            Transform::Both(lo, hi) => p.clamp(lo, hi),
        }
    }

    /// The bound `p` has ended on, if any: within `1e-9` of the distance the
    /// parameter travelled from `start` (or of 1), so that the test scales
    /// with the parameter.
    fn bound_reached(self, p: f64, start: f64) -> Option<f64> {
        let near =
            |bound: f64| (p - bound).abs() <= 1e-9 * (start - bound).abs().max(f64::MIN_POSITIVE);
        match self {
            Transform::Lower(lo) if near(lo) => Some(lo),
            Transform::Upper(hi) if near(hi) => Some(hi),
            Transform::Both(lo, _) if near(lo) => Some(lo),
            Transform::Both(_, hi) if near(hi) => Some(hi),
            _ => None,
        }
    }
}

/// Solver settings.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SolveOptions {
    /// Most residual evaluations.
    pub max_evaluations: usize,
}

/// What a solve found.
#[derive(Debug, Clone)]
pub(crate) struct Solution<const P: usize> {
    pub params: [f64; P],
    /// Sum of squared residuals at `params`.
    pub ssr: f64,
    pub evaluations: usize,
    pub converged: bool,
    /// scipy-`curve_fit`-style covariance (`absolute_sigma=False`), or
    /// `None` when there are no more points than parameters.
    pub covariance: Option<[[f64; P]; P]>,
}

/// One pass over the data: `JᵀJ`, `Jᵀr` and `rᵀr` at `p`.
#[derive(Clone)]
struct NormalEquations<const P: usize> {
    jtj: [[f64; P]; P],
    jtr: [f64; P],
    rtr: f64,
}

#[derive(Clone)]
struct Cached<const P: usize> {
    internal: [f64; P],
    normal: NormalEquations<P>,
}

impl<const P: usize> NormalEquations<P> {
    /// One pass over the data. Large inputs are cut into two fixed halves,
    /// summed in parallel and added in a fixed order: the cut does not depend
    /// on the machine or the scheduling, so neither do the results.
    fn accumulate<M: Model<P>>(model: &M, x: &[f64], y: &[f64], p: &[f64; P]) -> Self {
        if x.len() < PARALLEL_MIN_POINTS {
            return accumulate_normal_equations(model, x, y, p);
        }
        let half = x.len() / 2 / BLOCK * BLOCK;
        // rayon's pool threads persist, so a pass does not pay for a spawn.
        let (first, second) = rayon::join(
            || accumulate_normal_equations(model, &x[..half], &y[..half], p),
            || accumulate_normal_equations(model, &x[half..], &y[half..], p),
        );
        first.plus(&second)
    }

    fn plus(mut self, other: &Self) -> Self {
        self.rtr += other.rtr;
        for a in 0..P {
            self.jtr[a] += other.jtr[a];
            for b in 0..P {
                self.jtj[a][b] += other.jtj[a][b];
            }
        }
        self
    }

    /// The same equations in internal coordinates: `J_u = J_p · diag(dp/du)`.
    fn chain(mut self, slope: &[f64; P]) -> Self {
        for a in 0..P {
            self.jtr[a] *= slope[a];
            for b in 0..P {
                self.jtj[a][b] *= slope[a] * slope[b];
            }
        }
        self
    }

    /// `D = sqrt(diag JᵀJ)` (1 for an all-zero column): scales `JᵀJ` to
    /// unit diagonal.
    fn scale(&self) -> [f64; P] {
        std::array::from_fn(|i| {
            let d = self.jtj[i][i].sqrt();
            if d > 0.0 {
                d
            } else {
                1.0
            }
        })
    }

    /// Eigen-decomposition of `JᵀJ` scaled to unit diagonal, with the scale.
    fn scaled_eigen(&self) -> ([f64; P], SymmetricEigen<f64, Dyn>) {
        let scale = self.scale();
        let scaled = DMatrix::from_fn(P, P, |a, b| self.jtj[a][b] / (scale[a] * scale[b]));
        (scale, SymmetricEigen::new(scaled))
    }

    fn is_finite(&self) -> bool {
        self.rtr.is_finite()
            && self.jtr.iter().all(|v| v.is_finite())
            && self.jtj.iter().flatten().all(|v| v.is_finite())
    }
}

/// From this many points on, a pass is split over two threads; smaller
/// passes (a few µs per 1000 points) stay on the caller's thread, where the
/// hand-off to rayon's pool would cost a noticeable share.
const PARALLEL_MIN_POINTS: usize = 1 << 15;

/// Points per block: values and gradients of a block are computed first
/// into buffers that stay in L1 cache, then each sum is formed in its own
/// tight loop, so that its accumulator stays in a register.
const BLOCK: usize = 64;

/// Independent partial sums per dot product: enough to hide the latency of
/// floating-point addition (one chain would stall on every add).
const CHAINS: usize = 4;

/// `acc[chain][lane] += Σ u·v` over a block.
#[inline(always)]
fn add_dot(acc: &mut [[f64; LANES]; CHAINS], u: &[f64; BLOCK], v: &[f64; BLOCK]) {
    let mut local = *acc;
    for (uc, vc) in u
        .chunks_exact(LANES * CHAINS)
        .zip(v.chunks_exact(LANES * CHAINS))
    {
        for (c, chain) in local.iter_mut().enumerate() {
            for l in 0..LANES {
                chain[l] += uc[c * LANES + l] * vc[c * LANES + l];
            }
        }
    }
    *acc = local;
}

/// One pass over the data, compiled for the best vector unit the CPU has
/// (AVX-512, AVX2+FMA, or the x86-64/other baseline), chosen at run time.
/// All three run the same code; only instruction selection differs, so the
/// results agree to rounding.
fn accumulate_normal_equations<M: Model<P>, const P: usize>(
    model: &M,
    x: &[f64],
    y: &[f64],
    p: &[f64; P],
) -> NormalEquations<P> {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::is_x86_feature_detected as has;
        if has!("avx512f") && has!("avx512dq") && has!("avx512vl") && has!("avx2") && has!("fma") {
            // SAFETY: the CPU supports every feature the clone is built for
            // (checked on the line above).
            return unsafe { accumulate_avx512(model, x, y, p) };
        }
        if has!("avx2") && has!("fma") {
            // SAFETY: as above, for AVX2 and FMA.
            return unsafe { accumulate_avx2(model, x, y, p) };
        }
    }
    accumulate_blocks(model, x, y, p)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512dq,avx512vl,avx2,fma")]
fn accumulate_avx512<M: Model<P>, const P: usize>(
    model: &M,
    x: &[f64],
    y: &[f64],
    p: &[f64; P],
) -> NormalEquations<P> {
    accumulate_blocks(model, x, y, p)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn accumulate_avx2<M: Model<P>, const P: usize>(
    model: &M,
    x: &[f64],
    y: &[f64],
    p: &[f64; P],
) -> NormalEquations<P> {
    accumulate_blocks(model, x, y, p)
}

/// The pass itself: blockwise, with one partial sum per lane and chain
/// (summed in a fixed order at the end).
#[inline(always)]
#[allow(clippy::needless_range_loop)] // lane-indexed arrays, kept in step for vectorisation
fn accumulate_blocks<M: Model<P>, const P: usize>(
    model: &M,
    x: &[f64],
    y: &[f64],
    p: &[f64; P],
) -> NormalEquations<P> {
    let mut jtj = [[[[0.0; LANES]; CHAINS]; P]; P];
    let mut jtr = [[[0.0; LANES]; CHAINS]; P];
    let mut rtr = [[0.0; LANES]; CHAINS];
    let mut grad = [[0.0; BLOCK]; P];
    let mut res = [0.0; BLOCK];
    let mut lane_grad = [[0.0; LANES]; P];
    let mut padded_x = [0.0; BLOCK];
    let mut padded_y = [0.0; BLOCK];
    for start in (0..x.len()).step_by(BLOCK) {
        let used = BLOCK.min(x.len() - start);
        // A short last block is padded by repeating its last point; the
        // padding's residuals and gradients are zeroed below.
        let (xb, yb): (&[f64], &[f64]) = if used == BLOCK {
            (&x[start..start + BLOCK], &y[start..start + BLOCK])
        } else {
            padded_x[..used].copy_from_slice(&x[start..]);
            padded_y[..used].copy_from_slice(&y[start..]);
            padded_x[used..].fill(x[x.len() - 1]);
            padded_y[used..].fill(y[y.len() - 1]);
            (&padded_x, &padded_y)
        };
        for c in 0..BLOCK / LANES {
            let at = c * LANES;
            let xs: [f64; LANES] = std::array::from_fn(|l| xb[at + l]);
            let value = model.value_and_gradient_lanes(&xs, p, &mut lane_grad);
            for l in 0..LANES {
                res[at + l] = value[l] - yb[at + l];
            }
            for a in 0..P {
                grad[a][at..at + LANES].copy_from_slice(&lane_grad[a]);
            }
        }
        if used < BLOCK {
            res[used..].fill(0.0);
            for g in grad.iter_mut() {
                g[used..].fill(0.0);
            }
        }
        add_dot(&mut rtr, &res, &res);
        for a in 0..P {
            add_dot(&mut jtr[a], &grad[a], &res);
            for b in 0..=a {
                add_dot(&mut jtj[a][b], &grad[a], &grad[b]);
            }
        }
    }
    let total = |parts: &[[f64; LANES]; CHAINS]| parts.iter().flatten().sum::<f64>();
    let mut out = NormalEquations {
        jtj: [[0.0; P]; P],
        jtr: std::array::from_fn(|a| total(&jtr[a])),
        rtr: total(&rtr),
    };
    for a in 0..P {
        for b in 0..=a {
            out.jtj[a][b] = total(&jtj[a][b]);
            out.jtj[b][a] = out.jtj[a][b];
        }
    }
    out
}

/// The compressed stand-in for the full problem, in internal coordinates.
struct CompressedProblem<'a, M, const P: usize> {
    model: &'a M,
    x: &'a [f64],
    y: &'a [f64],
    transforms: [Transform; P],
    internal: [f64; P],
    /// `r'` and `J'` at `internal`, or `None` after a non-finite evaluation.
    compressed: Option<(DVector<f64>, DMatrix<f64>)>,
    /// The last two points evaluated (external sums): the crate returns to
    /// the accepted point after a rejected step, and the caller needs the
    /// final point's sums for the covariance; neither needs a new pass.
    recent: [Option<Cached<P>>; 2],
}

impl<'a, M: Model<P>, const P: usize> CompressedProblem<'a, M, P> {
    fn external(&self) -> ([f64; P], [f64; P]) {
        let mut params = [0.0; P];
        let mut slope = [0.0; P];
        for i in 0..P {
            (params[i], slope[i]) = self.transforms[i].external(self.internal[i]);
        }
        (params, slope)
    }

    fn evaluate(&mut self) {
        let (params, slope) = self.external();
        let normal = self.sums_at(&params);
        let normal = normal.chain(&slope);
        self.compressed = normal.is_finite().then(|| compress(&normal));
    }

    /// External sums at the current point, from the cache when possible.
    fn sums_at(&mut self, params: &[f64; P]) -> NormalEquations<P> {
        let hit = self
            .recent
            .iter()
            .flatten()
            .find(|c| c.internal == self.internal);
        if let Some(cached) = hit {
            return cached.normal.clone();
        }
        let normal = NormalEquations::accumulate(self.model, self.x, self.y, params);
        self.recent.swap(0, 1);
        self.recent[0] = Some(Cached {
            internal: self.internal,
            normal: normal.clone(),
        });
        normal
    }
}

/// Builds `r'` and `J'` from the normal equations.
///
/// `G` is first scaled to unit diagonal so that parameters of very different
/// magnitude do not spoil the factorisation. Usually `G` is positive
/// definite and a Cholesky factor `G = LLᵀ` gives `R = Lᵀ` directly (no heap,
/// a few dozen flops); when it is not (a rank-deficient Jacobian, e.g. a
/// parameter pinned on its bound) an eigen-decomposition is used instead,
/// whose negligible directions get zero rows, so the LM step leaves them
/// alone, as a pivoted QR would.
fn compress<const P: usize>(normal: &NormalEquations<P>) -> (DVector<f64>, DMatrix<f64>) {
    let scale = normal.scale();
    let scaled = SMatrix::<f64, P, P>::from_fn(|a, b| normal.jtj[a][b] / (scale[a] * scale[b]));
    let scaled_g = SVector::<f64, P>::from_fn(|a, _| normal.jtr[a] / scale[a]);
    if let Some(cholesky) = Cholesky::new(scaled) {
        let l = cholesky.l();
        // Well conditioned enough that the factor is trustworthy.
        let diag_min = l.diagonal().min();
        let diag_max = l.diagonal().max();
        if diag_min > diag_max * f64::EPSILON.sqrt() * P as f64 {
            let mut residual = DVector::zeros(P + 1);
            let mut jacobian = DMatrix::zeros(P + 1, P);
            // R = Lᵀ D, and Rᵀt = g  <=>  L t = D⁻¹ g.
            let t = l
                .solve_lower_triangular(&scaled_g)
                .unwrap_or_else(SVector::zeros);
            for j in 0..P {
                for b in j..P {
                    jacobian[(j, b)] = l[(b, j)] * scale[b];
                }
                residual[j] = t[j];
            }
            residual[P] = (normal.rtr - t.norm_squared()).max(0.0).sqrt();
            return (residual, jacobian);
        }
    }
    let (_, eigen) = normal.scaled_eigen();
    let largest = eigen.eigenvalues.iter().cloned().fold(0.0_f64, f64::max);
    let tolerance = largest * (f64::EPSILON * P as f64).powi(2);
    let projected =
        eigen.eigenvectors.transpose() * DVector::from_column_slice(scaled_g.as_slice());

    let mut residual = DVector::zeros(P + 1);
    let mut jacobian = DMatrix::zeros(P + 1, P);
    let mut explained = 0.0;
    for j in 0..P {
        let lambda = eigen.eigenvalues[j];
        if lambda <= tolerance {
            continue;
        }
        let root = lambda.sqrt();
        for b in 0..P {
            jacobian[(j, b)] = root * eigen.eigenvectors[(b, j)] * scale[b];
        }
        let t = projected[j] / root;
        residual[j] = t;
        explained += t * t;
    }
    residual[P] = (normal.rtr - explained).max(0.0).sqrt();
    (residual, jacobian)
}

impl<M: Model<P>, const P: usize> LeastSquaresProblem<f64, Dyn, Dyn>
    for CompressedProblem<'_, M, P>
{
    type ResidualStorage = Owned<f64, Dyn>;
    type JacobianStorage = Owned<f64, Dyn, Dyn>;
    type ParameterStorage = Owned<f64, Dyn>;

    fn set_params(&mut self, params: &DVector<f64>) {
        for (slot, value) in self.internal.iter_mut().zip(params.iter()) {
            *slot = *value;
        }
        self.evaluate();
    }

    fn params(&self) -> DVector<f64> {
        DVector::from_column_slice(&self.internal)
    }

    fn residuals(&self) -> Option<DVector<f64>> {
        self.compressed.as_ref().map(|(r, _)| r.clone())
    }

    fn jacobian(&self) -> Option<DMatrix<f64>> {
        self.compressed.as_ref().map(|(_, j)| j.clone())
    }
}

/// Whether the crate stopped at a minimum. `NoImprovementPossible` means the
/// tolerances were reached to machine precision, which is convergence too.
fn converged(reason: &TerminationReason) -> bool {
    reason.was_successful() || matches!(reason, TerminationReason::NoImprovementPossible(_))
}

/// One run of the crate from `start` with the given transforms.
struct Run<const P: usize> {
    params: [f64; P],
    /// Sums at `params`.
    normal: NormalEquations<P>,
    evaluations: usize,
    termination: TerminationReason,
}

fn run<M: Model<P>, const P: usize>(
    model: &M,
    x: &[f64],
    y: &[f64],
    start: [f64; P],
    transforms: [Transform; P],
    max_evaluations: usize,
) -> Result<Run<P>, String> {
    let mut problem = CompressedProblem {
        model,
        x,
        y,
        transforms,
        internal: std::array::from_fn(|i| transforms[i].internal(start[i])),
        compressed: None,
        recent: [None, None],
    };
    problem.evaluate();
    // The crate's budget is `patience * (n + 1)` evaluations.
    let solver = LevenbergMarquardt::new()
        .with_ftol(1e-12)
        .with_xtol(1e-12)
        .with_gtol(1e-12)
        .with_patience((max_evaluations / (P + 1)).max(1));
    let (problem, report) = solver.minimize(problem);
    if let TerminationReason::User(_) | TerminationReason::Numerical(_) = report.termination {
        return Err(format!("{:?}", report.termination));
    }
    let mut problem = problem;
    let (params, _) = problem.external();
    if params.iter().any(|v| !v.is_finite()) {
        return Err("a parameter became non-finite".to_string());
    }
    let normal = problem.sums_at(&params);
    Ok(Run {
        params,
        normal,
        evaluations: report.number_of_evaluations,
        termination: report.termination,
    })
}

/// Minimises `Σ (f(xᵢ; p) - yᵢ)²` from `start` within `bounds`.
///
/// `x` and `y` must already be validated (same length, finite). A start
/// outside the bounds is moved onto them. An optimum on a bound is a kink
/// for the reflected search, where its trust region collapses before the
/// other parameters have settled; so parameters that end on a bound are
/// pinned there and the rest solved again, keeping the lower minimum.
pub(crate) fn solve<M: Model<P>, const P: usize>(
    model: &M,
    x: &[f64],
    y: &[f64],
    start: [f64; P],
    bounds: &Bounds<P>,
    options: SolveOptions,
) -> Result<Solution<P>, String> {
    let mut transforms: [Transform; P] =
        std::array::from_fn(|i| Transform::new(bounds.lower[i], bounds.upper[i]));
    let mut best = run(model, x, y, start, transforms, options.max_evaluations)?;
    let mut evaluations = best.evaluations;
    let mut pinned = false;
    for i in 0..P {
        if let Some(bound) = transforms[i].bound_reached(best.params[i], start[i]) {
            transforms[i] = Transform::Fixed(bound);
            pinned = true;
        }
    }
    let remaining = options.max_evaluations.saturating_sub(evaluations);
    if pinned && remaining > 0 {
        let mut from = best.params;
        for (p, t) in from.iter_mut().zip(&transforms) {
            if let Transform::Fixed(bound) = *t {
                *p = bound;
            }
        }
        let polished = run(model, x, y, from, transforms, remaining)?;
        evaluations += polished.evaluations;
        if polished.normal.rtr <= best.normal.rtr {
            best = polished;
        }
    }
    let (params, normal) = match model.canonical(&best.params) {
        Some(canonical) => (
            canonical,
            NormalEquations::accumulate(model, x, y, &canonical),
        ),
        None => (best.params, best.normal),
    };
    if !normal.rtr.is_finite() {
        return Err("the residuals at the solution are not finite".to_string());
    }
    Ok(Solution {
        params,
        ssr: normal.rtr,
        evaluations,
        converged: converged(&best.termination),
        covariance: covariance(&normal, x.len()),
    })
}

/// `pinv(JᵀJ) · SSR / (n - P)`, as scipy's `curve_fit` reports it.
///
/// `JᵀJ` is scaled to unit diagonal before the eigen-decomposition
/// (`pinv(G) = D⁻¹ pinv(D⁻¹GD⁻¹) D⁻¹`): parameters whose magnitudes differ
/// by many decades (an amplitude of 1e-6 V beside a mean of 1 mm) would
/// otherwise lose digits. Directions with singular values below scipy's
/// cut-off (`eps · max(n, P) · s_max`) are dropped, as scipy's SVD does.
fn covariance<const P: usize>(normal: &NormalEquations<P>, n: usize) -> Option<[[f64; P]; P]> {
    if n <= P || !normal.is_finite() {
        return None;
    }
    let (scale, eigen) = normal.scaled_eigen();
    let largest_singular = eigen
        .eigenvalues
        .iter()
        .cloned()
        .fold(0.0_f64, f64::max)
        .sqrt();
    let threshold = f64::EPSILON * n.max(P) as f64 * largest_singular;
    let s_sq = normal.rtr / (n - P) as f64;
    let mut cov = [[0.0; P]; P];
    for j in 0..P {
        let singular = eigen.eigenvalues[j].max(0.0).sqrt();
        if singular <= threshold {
            continue;
        }
        let inv = 1.0 / eigen.eigenvalues[j];
        for a in 0..P {
            for b in 0..P {
                cov[a][b] += eigen.eigenvectors[(a, j)] * inv * eigen.eigenvectors[(b, j)]
                    / (scale[a] * scale[b])
                    * s_sq;
            }
        }
    }
    Some(cov)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `f = p0 + p1 x`: a linear problem with a closed-form answer.
    struct Line;
    impl Model<2> for Line {
        fn value_and_gradient(&self, x: f64, p: &[f64; 2], grad: &mut [f64; 2]) -> f64 {
            grad[0] = 1.0;
            grad[1] = x;
            p[0] + p[1] * x
        }
    }

    fn options() -> SolveOptions {
        SolveOptions {
            max_evaluations: 1000,
        }
    }

    #[test]
    fn solves_a_linear_problem_exactly() {
        let x = [0.0, 1.0, 2.0, 3.0];
        let y = [1.0, 3.1, 4.9, 7.0];
        let s = solve(&Line, &x, &y, [0.0, 0.0], &Bounds::none(), options()).unwrap();
        // Closed form: slope = cov(x,y)/var(x) = 1.98, intercept = 1.03.
        assert!((s.params[1] - 1.98).abs() < 1e-12, "{:?}", s.params);
        assert!((s.params[0] - 1.03).abs() < 1e-12, "{:?}", s.params);
        assert!(s.converged);
        let cov = s.covariance.unwrap();
        // var(slope) = s² / Σ(x - x̄)² with s² = SSR / (n - 2).
        let expected = s.ssr / 2.0 / 5.0;
        assert!((cov[1][1] - expected).abs() < 1e-12 * expected.max(1e-30));
    }

    #[test]
    fn an_optimum_beyond_a_bound_ends_on_it() {
        let x = [0.0, 1.0, 2.0, 3.0];
        let y = [1.0, 0.0, -1.0, -2.0];
        let bounds = Bounds {
            lower: [f64::NEG_INFINITY, 0.0],
            upper: [f64::INFINITY, f64::INFINITY],
        };
        let s = solve(&Line, &x, &y, [0.0, 1.0], &bounds, options()).unwrap();
        // The slope ends on its bound 0 and the intercept at the mean of y.
        assert_eq!(s.params[1], 0.0, "{:?}", s.params);
        assert!((s.params[0] + 0.5).abs() < 1e-12, "{:?}", s.params);
    }

    #[test]
    fn no_covariance_without_spare_points() {
        let s = solve(
            &Line,
            &[0.0, 1.0],
            &[0.0, 1.0],
            [0.5, 0.5],
            &Bounds::none(),
            options(),
        )
        .unwrap();
        assert!(s.covariance.is_none());
    }
}

#[cfg(test)]
mod transform_tests {
    use super::Transform;

    #[test]
    fn reflection_keeps_parameters_inside() {
        assert_eq!(Transform::Lower(0.0).external(-2.5), (2.5, -1.0));
        assert_eq!(Transform::Lower(1e-6).external(4.0), (4.0, 1.0));
        assert_eq!(Transform::Upper(10.0).external(12.0), (8.0, -1.0));
        assert_eq!(Transform::Both(0.0, 1.0).external(1.25), (0.75, -1.0));
        assert_eq!(Transform::Both(0.0, 1.0).external(-0.25), (0.25, -1.0));
        assert_eq!(Transform::Both(0.0, 1.0).external(2.25), (0.25, 1.0));
        assert_eq!(Transform::Lower(0.0).internal(-3.0), 0.0);
        assert_eq!(Transform::Fixed(2.0).external(7.0), (2.0, 0.0));
        assert_eq!(Transform::Lower(0.0).bound_reached(1e-12, 5.0), Some(0.0));
        assert_eq!(Transform::Lower(0.0).bound_reached(1e-6, 5.0), None);
        for u in [-1e3, -1.0, 0.0, 1e-4, 7.0] {
            assert!(Transform::Lower(0.0).external(u).0 >= 0.0);
            assert!(Transform::Upper(1.0).external(u).0 <= 1.0);
        }
    }
}
