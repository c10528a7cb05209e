//! The wire scanner's detector channels: one definition for the simulator
//! that serves their traces, the live fit that reads them and the PVs that
//! publish the results.

/// The struck digitiser's channels, in the reference's order (its fit PVs
/// and plots use these names).
pub const CHANNELS: [&str; 8] = [
    "V-PDR", "V-PDL", "H-PDT", "H-PDB", "V-APDT", "V-APDB", "H-APDR", "H-APDL",
];

/// The two traces of each channel: `TRC1` raw, `TRC2` processed (the fit
/// prefers it).
pub const TRACES: [&str; 2] = ["TRC1", "TRC2"];

/// The waveform PV of one channel's trace under the struck prefix.
pub fn trace_pv(struck: &str, channel: &str, trace: &str) -> String {
    format!("{struck}{channel}-{trace}-ArrayData")
}
