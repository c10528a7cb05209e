//! Memory a finished sequence no longer needs, given back to the system:
//! a daemon left running for months must stay as small at rest as it
//! started. Measured with `cargo bench -p daemon --bench soak` (issue 11,
//! A14): 61 MB resident after 100 five-step sequences without this, 31 MB
//! with it (then 28 MB with the log queue's array made smaller, see
//! `logging`). Two keepers hold what a sequence freed: HDF5's free lists
//! (blocks it recycles itself and never returns: the larger share) and the
//! C allocator's arenas (freed memory kept for reuse). Capping either at
//! start (two arenas, HDF5's free-list limits) was measured too and gained
//! nothing at rest.

/// Frees HDF5's free lists and trims the allocator's arenas. Blocking (a
/// few milliseconds): call it on the blocking pool, after a sequence.
pub fn give_back() {
    hdf5::sync::sync(|| {
        // SAFETY: H5garbage_collect only releases blocks on HDF5's own free
        // lists; it is called under hdf5-metno's lock like every HDF5 call.
        unsafe {
            hdf5_sys::h5::H5garbage_collect();
        }
    });
    // SAFETY: malloc_trim only returns free memory to the system.
    unsafe {
        libc::malloc_trim(0);
    }
}
