//! Nothing this process opens may leak into a child process.
//!
//! HDF5 opens its files without `O_CLOEXEC` and holds an exclusive `flock`
//! on them while they are open for writing: a child started meanwhile (a
//! custom callback, `fws-plot --follow` in a test) inherits the descriptor,
//! and with it the lock, for as long as it lives; the file then cannot be
//! opened by anyone else, even after this process closed it. Two rules
//! close that hole, and each is enough on its own for the other's gap:
//!
//! - [`h5`]: every HDF5 file is opened through here and its descriptor is
//!   made close-on-exec at once;
//! - [`child`]: every child is spawned with every descriptor above stderr
//!   marked close-on-exec in the child itself, so even a descriptor opened
//!   by another thread an instant before the fork (before [`h5`] could mark
//!   it) is not inherited.

pub mod child;
pub mod h5;

/// The tests of this crate one at a time: one spawns a child the old way on
/// purpose (to show the leak), and it would inherit another test's HDF5
/// file in the instant before that test marks it.
#[cfg(test)]
pub(crate) static ONE_TEST_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
