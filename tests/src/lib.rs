//! Shared support for the end-to-end tests.
//!
//! [`scenario`] generates small but real-shaped EKS snapshots (the JSON the AWS CLI and kubectl
//! print) across the configuration axes that decide a pod's reachability beyond its VPC, so the
//! differential test can run each through both the model and the kernel lab. [`moto`] runs a
//! moto server (the AWS-compatible endpoint) for the live-collection and Lambda tests, and
//! [`seed`] creates topologies in it through the real EC2 and EKS APIs; [`lambda`] holds what the
//! function tests share (sample events for a moto account, SNS subscribers, the add-on mock), and
//! [`infra`] reads the SAM template as JSON. [`kube`] runs the fake EKS Kubernetes API
//! (`tests/kube/fake_kube`) beside moto; [`runtime`] serves the Lambda Runtime API to the real
//! bootstrap binaries, and [`aws_proxy`] stands in front of moto to give one account of many a
//! fault moto cannot (a refused role, EC2 denied or throttled) and to measure per account. [`lab`] says whether the datapath lab can run here.
//!
//! Every test file takes its helpers from here rather than keeping a copy of its own; [`fail`]
//! is the one way a helper fails a test with a message it has to format.

pub mod aws_proxy;
pub mod infra;
pub mod kube;
pub mod lab;
pub mod lambda;
pub mod lifecycle;
pub mod moto;
pub mod runtime;
pub mod scenario;
pub mod seed;

/// Fails the test with `message`: for what a test or its support cannot find, read or start,
/// where `expect` would need a message built before it is known to be needed.
#[allow(
    clippy::panic,
    reason = "test support: what a test needs and cannot get fails that test with the reason"
)]
pub fn fail(message: &str) -> ! {
    panic!("{message}")
}
