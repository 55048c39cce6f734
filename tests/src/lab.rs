//! What the tests of the datapath lab (`tests/tests/differential.rs`, `tests/tests/lab_cleanup.rs`)
//! share: whether the lab can run in this process. The lab creates network namespaces, so it
//! needs root; without it a test says so and passes, except in CI (`CI` set), where the lab must
//! run and the test fails instead.

/// `true` when the lab can run here (effective uid 0); otherwise `false` after saying so on
/// stderr, and a failed test in CI, where it must run.
pub fn can_run() -> bool {
    let uid = effective_uid();
    if uid != 0 {
        assert!(
            std::env::var_os("CI").is_none(),
            "datapath lab needs root in CI (running as uid {uid}); run the tests as root"
        );
        eprintln!("datapath lab NOT RUN: needs root");
        return false;
    }
    true
}

/// This process's effective uid, from the `Uid:` line of `/proc/self/status` (real, effective,
/// saved, fs); `u32::MAX` when it cannot be read.
fn effective_uid() -> u32 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2))
                .and_then(|u| u.parse().ok())
        })
        .unwrap_or(u32::MAX)
}
