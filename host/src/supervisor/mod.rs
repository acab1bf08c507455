//! The per-user supervisor: its durable state ([`store`]), the control protocol
//! ([`protocol`], [`client`]) and the process that serves it ([`server`]).

pub mod client;
pub mod context;
pub mod decide;
pub mod error;
pub mod lifecycle;
pub mod liveness;
pub mod notify;
pub mod protocol;
pub mod report;
pub mod scheduler;
pub mod server;
pub mod store;

pub use client::Client;
pub use error::SupervisorError;

/// One timestamped line on the supervisor's stderr (its log file when started on demand).
pub(crate) fn log(message: &str) {
    eprintln!("[{}] {message}", store::now_ms());
}
