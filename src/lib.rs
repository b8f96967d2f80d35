//! kockpit: one screen for the on-call engineer of a self-hosted HA Kubernetes cluster.

pub mod app;
pub mod backend;
pub mod cli;
pub mod config;
pub mod error;
pub mod inventory;
pub mod model;
pub mod ops;
pub mod sim;
pub mod ui;
