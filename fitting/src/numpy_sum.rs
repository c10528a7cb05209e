//! numpy's pairwise summation, reproduced so that sums, means and
//! trapezoids round exactly as the reference daemon's numpy calls do.

/// numpy's unrolled block size (`PW_BLOCKSIZE` in numpy's loops).
const BLOCK: usize = 128;

/// Sum of `values` in numpy's pairwise order (`np.sum` on a contiguous
/// float64 array).
pub fn pairwise_sum(values: &[f64]) -> f64 {
    pairwise_sum_by(values.len(), &|i| values[i])
}

/// Pairwise sum of `term(i)` for `i in 0..n`, in numpy's order; lets
/// callers sum an expression without building a temporary array.
pub fn pairwise_sum_by(n: usize, term: &dyn Fn(usize) -> f64) -> f64 {
    pairwise_range(0, n, term)
}

fn pairwise_range(start: usize, n: usize, term: &dyn Fn(usize) -> f64) -> f64 {
    if n < 8 {
        // numpy starts this branch from -0.0 so that an all -0.0 sum stays -0.0.
        let mut res = -0.0;
        for i in start..start + n {
            res += term(i);
        }
        res
    } else if n <= BLOCK {
        let mut r = [0.0; 8];
        for (k, slot) in r.iter_mut().enumerate() {
            *slot = term(start + k);
        }
        let mut i = 8;
        while i < n - (n % 8) {
            for (k, slot) in r.iter_mut().enumerate() {
                *slot += term(start + i + k);
            }
            i += 8;
        }
        let mut res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        while i < n {
            res += term(start + i);
            i += 1;
        }
        res
    } else {
        let mut half = n / 2;
        half -= half % 8;
        pairwise_range(start, half, term) + pairwise_range(start + half, n - half, term)
    }
}

/// Mean in numpy's order (`np.mean`): pairwise sum divided by the count.
/// `None` for an empty slice.
pub fn mean(values: &[f64]) -> Option<f64> {
    if values.is_empty() {
        None
    } else {
        Some(pairwise_sum(values) / values.len() as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_plain_sum_on_exact_values() {
        for n in [0usize, 1, 7, 8, 9, 127, 128, 129, 1000] {
            let v: Vec<f64> = (0..n).map(|i| i as f64).collect();
            assert_eq!(pairwise_sum(&v), (n * n.saturating_sub(1) / 2) as f64);
        }
    }

    #[test]
    fn order_differs_from_naive_loop_like_numpy() {
        // 1e16 + 1 + 1 ... : pairwise grouping keeps small terms together.
        let mut v = vec![1.0; 200];
        v[0] = 1e16;
        let naive: f64 = v.iter().sum();
        assert_ne!(pairwise_sum(&v), naive);
    }
}
