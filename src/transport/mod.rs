//! How kockpit reaches hosts: the SSH pool (persistent shells, ProxyJump, known_hosts, ssh_config),
//! the read-only command set with every script it may send, commands on this machine, HTTPS GETs
//! (an apiserver's /readyz).

pub mod https;
pub mod readonly;
pub mod remote;
pub mod scripts;
pub mod ssh;

pub use remote::Remote;
