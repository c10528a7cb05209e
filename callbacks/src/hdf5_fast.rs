//! The hot path of every step: scalar datasets with their `egu` attribute,
//! through the HDF5 C API. hdf5-metno builds and validates a datatype,
//! property lists and shapes around each dataset (about 85 us each, 126 per
//! step); the direct calls take about 30 us. Under hdf5-metno's own lock, and
//! errors come back as its errors, with HDF5's message.

use hdf5::h5check;
use hdf5_sys::h5::herr_t;
use hdf5_sys::h5i::hid_t;
use hdf5_sys::h5p::H5P_DEFAULT;
use hdf5_sys::{h5a, h5d, h5s, h5t};
use std::ffi::{c_char, c_void, CString};

/// A scalar number for a dataset.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Scalar {
    /// Stored as a 64-bit float.
    F64(f64),
    /// Stored as a 64-bit signed integer.
    I64(i64),
}

/// An HDF5 identifier, closed when dropped.
struct Id(hid_t, unsafe extern "C" fn(hid_t) -> herr_t);

impl Drop for Id {
    fn drop(&mut self) {
        // SAFETY: the id was returned valid by the matching create call and
        // is closed exactly once, here.
        unsafe {
            (self.1)(self.0);
        }
    }
}

fn c_string(text: &str) -> hdf5::Result<CString> {
    // Text after a NUL cannot be stored as a C string; keep what is before.
    CString::new(text.split('\0').next().unwrap_or(""))
        .map_err(|e| hdf5::Error::from(e.to_string()))
}

/// Creates dataset `name` in `group` holding `value` (a scalar dataspace,
/// the native type), with a variable-length UTF-8 `egu` attribute when a
/// unit is given: the layout h5py writes for `create_dataset(name,
/// data=value)` and `attrs["egu"] = unit`.
pub(crate) fn scalar_dataset(
    group: &hdf5::Group,
    name: &str,
    value: Scalar,
    egu: Option<&str>,
) -> hdf5::Result<()> {
    let name = c_string(name)?;
    let egu = egu.map(c_string).transpose()?;
    let (f64_value, i64_value) = match value {
        Scalar::F64(v) => (v, 0),
        Scalar::I64(v) => (0.0, v),
    };
    hdf5::sync::sync(|| {
        // SAFETY: every id comes from a checked create call and lives in an
        // `Id` until the end of this block; the buffers passed to the writes
        // (the value, the unit's pointer) outlive the calls and match the
        // memory types given with them; `group.id()` is a live group.
        unsafe {
            let (dtype, buffer): (hid_t, *const c_void) = match value {
                Scalar::F64(_) => (*h5t::H5T_NATIVE_DOUBLE, (&f64_value as *const f64).cast()),
                Scalar::I64(_) => (*h5t::H5T_NATIVE_INT64, (&i64_value as *const i64).cast()),
            };
            let space = Id(
                h5check(h5s::H5Screate(h5s::H5S_class_t::H5S_SCALAR))?,
                h5s::H5Sclose,
            );
            let dataset = Id(
                h5check(h5d::H5Dcreate2(
                    group.id(),
                    name.as_ptr(),
                    dtype,
                    space.0,
                    H5P_DEFAULT,
                    H5P_DEFAULT,
                    H5P_DEFAULT,
                ))?,
                h5d::H5Dclose,
            );
            h5check(h5d::H5Dwrite(
                dataset.0,
                dtype,
                h5s::H5S_ALL,
                h5s::H5S_ALL,
                H5P_DEFAULT,
                buffer,
            ))?;
            if let Some(unit) = &egu {
                let text = Id(h5check(h5t::H5Tcopy(*h5t::H5T_C_S1))?, h5t::H5Tclose);
                h5check(h5t::H5Tset_size(text.0, h5t::H5T_VARIABLE))?;
                h5check(h5t::H5Tset_cset(text.0, h5t::H5T_cset_t::H5T_CSET_UTF8))?;
                let attr = Id(
                    h5check(h5a::H5Acreate2(
                        dataset.0,
                        c"egu".as_ptr(),
                        text.0,
                        space.0,
                        H5P_DEFAULT,
                        H5P_DEFAULT,
                    ))?,
                    h5a::H5Aclose,
                );
                let pointer: *const c_char = unit.as_ptr();
                h5check(h5a::H5Awrite(
                    attr.0,
                    text.0,
                    (&pointer as *const *const c_char).cast(),
                ))?;
            }
            Ok(())
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use hdf5::types::{TypeDescriptor, VarLenUnicode};

    #[test]
    fn scalars_are_stored_as_the_high_level_api_stores_them() {
        let dir = tempfile::tempdir().unwrap();
        let file = hdf5::File::create(dir.path().join("t.h5")).unwrap();
        let group = file.create_group("g").unwrap();
        scalar_dataset(&group, "A:B-C", Scalar::F64(-2.5), Some("mm")).unwrap();
        scalar_dataset(&group, "n", Scalar::I64(i64::MIN), None).unwrap();
        let reference = group.new_dataset::<f64>().shape(()).create("ref").unwrap();

        let a = group.dataset("A:B-C").unwrap();
        assert_eq!(a.read_scalar::<f64>().unwrap(), -2.5);
        assert_eq!(a.shape(), Vec::<usize>::new());
        assert_eq!(
            a.dtype().unwrap().to_descriptor().unwrap(),
            reference.dtype().unwrap().to_descriptor().unwrap()
        );
        let egu = a.attr("egu").unwrap();
        assert_eq!(
            egu.dtype().unwrap().to_descriptor().unwrap(),
            TypeDescriptor::VarLenUnicode
        );
        assert_eq!(egu.read_scalar::<VarLenUnicode>().unwrap().as_str(), "mm");

        let n = group.dataset("n").unwrap();
        assert_eq!(n.read_scalar::<i64>().unwrap(), i64::MIN);
        assert!(n.attr_names().unwrap().is_empty());
    }

    #[test]
    fn failures_come_back_as_errors_with_hdf5s_message() {
        let dir = tempfile::tempdir().unwrap();
        let file = hdf5::File::create(dir.path().join("t.h5")).unwrap();
        let group = file.create_group("g").unwrap();
        scalar_dataset(&group, "x", Scalar::F64(1.0), None).unwrap();
        let again = scalar_dataset(&group, "x", Scalar::F64(2.0), None).unwrap_err();
        assert!(again.to_string().contains("exists"), "{again}");
        assert_eq!(
            group.dataset("x").unwrap().read_scalar::<f64>().unwrap(),
            1.0
        );
    }
}
