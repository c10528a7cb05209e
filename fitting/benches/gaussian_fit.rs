//! Gaussian fit at the sizes the goal names (5, 21, 1000, 100k points).
//! Absolute times only; `scripts/bench-fit.sh` prints the ratio to scipy
//! measured in the same run.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use std::hint::black_box;

fn data(n: usize) -> (Vec<f64>, Vec<f64>) {
    let x = fitting::linspace(-10.0, 10.0, n);
    let mut state = 0x9E37_79B9_7F4A_7C15_u64;
    let y = x
        .iter()
        .map(|&v| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let noise = (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5;
            fitting::gaussian(v, 3.0, 0.7, 1.9, 0.2) + 0.1 * noise
        })
        .collect();
    (x, y)
}

fn gaussian_fit(c: &mut Criterion) {
    let mut group = c.benchmark_group("gaussian_fit");
    for n in [5usize, 21, 1000, 100_000] {
        let (x, y) = data(n);
        group.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, _| {
            b.iter(|| fitting::fit_gaussian(black_box(&x), black_box(&y)))
        });
    }
    group.finish();
}

criterion_group!(benches, gaussian_fit);
criterion_main!(benches);
