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

/// Frees HDF5's free lists and its conversion paths for variable-length
/// types, and trims the allocator's arenas. Blocking (a few milliseconds):
/// call it on the blocking pool, after a sequence.
pub fn give_back() {
    hdf5::sync::sync(|| {
        forget_vlen_paths();
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

/// HDF5 (1.10) caches a conversion path for every pair of datatypes it
/// converts between and never removes one; a variable-length type on disk
/// (each string attribute and text dataset) is a new type for every file,
/// because its file's address is part of it. One file per sequence: about
/// 1.5 KB more, for good, per sequence. The paths are dropped here with the
/// soft conversion that made them, and that conversion (found through the
/// public `H5Tfind`) is registered again, so the next file converts as
/// before. Under HDF5's lock, when no sequence writes.
fn forget_vlen_paths() {
    use hdf5_sys::h5t::{
        H5T_pers_t, H5Tclose, H5Tfind, H5Tregister, H5Tunregister, H5Tvlen_create,
    };
    use std::sync::OnceLock;
    /// The "vlen" soft conversion, found once.
    static CONVERSION: OnceLock<hdf5_sys::h5t::H5T_conv_t> = OnceLock::new();
    const NAME: &std::ffi::CStr = c"vlen";
    // SAFETY: public HDF5 calls on types created and closed here; the
    // conversion function is HDF5's own, as H5Tfind returned it.
    unsafe {
        let ints = H5Tvlen_create(*hdf5_sys::h5t::H5T_NATIVE_INT);
        let doubles = H5Tvlen_create(*hdf5_sys::h5t::H5T_NATIVE_DOUBLE);
        if ints < 0 || doubles < 0 {
            return;
        }
        let conversion = *CONVERSION.get_or_init(|| {
            let mut cdata = std::ptr::null_mut();
            H5Tfind(ints, doubles, &mut cdata)
        });
        if conversion.is_some()
            && H5Tunregister(H5T_pers_t::H5T_PERS_SOFT, NAME.as_ptr(), -1, -1, None) >= 0
        {
            H5Tregister(
                H5T_pers_t::H5T_PERS_SOFT,
                NAME.as_ptr(),
                ints,
                ints,
                conversion,
            );
        }
        H5Tclose(ints);
        H5Tclose(doubles);
    }
}
