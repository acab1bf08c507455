//! The per-user supervisor: its durable state, and (as the lifecycle grows) the queue,
//! admission and control socket.

pub mod store;
