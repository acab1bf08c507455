//! `agenthost:policy@0.1.0`, frozen in `sdk/wit-0.1`: components built for it still load.
//! Its types are the current ones but for admission's: the task view had only the id,
//! title, repository and Scope size (the host narrows the current views to it), and the
//! answer had no `wait`.

/// The version.
pub(super) const VERSION: &str = "0.1.0";

/// The 0.1 `types` interface: the SDK's wire types, and the admission types as 0.1 had
/// them.
#[allow(unreachable_pub)] // `bindgen!` re-exports it as its `types` module.
pub mod wire {
    use agenthost_policy as sdk;
    pub use agenthost_policy::{Finding, RunResult, Spec};
    pub use generated::agenthost::policy::types::{Host, HostWithStore, add_to_linker};
    use wasmtime::component::{ComponentType, Lift, Lower};

    mod generated {
        wasmtime::component::bindgen!({
            path: "../sdk/wit-0.1",
            inline: "package agenthost:host; world types { import agenthost:policy/types@0.1.0; }",
        });
    }

    /// A task as 0.1's admission saw it.
    #[derive(Debug, Clone, ComponentType, Lift, Lower)]
    #[component(record)]
    pub struct TaskView {
        id: String,
        title: String,
        repo: String,
        #[component(name = "scope-entries")]
        scope_entries: u32,
    }

    /// A task waiting for review, in 0.1.
    #[derive(Debug, Clone, ComponentType, Lift, Lower)]
    #[component(record)]
    pub struct WaitingTask {
        task: TaskView,
        #[component(name = "waited-secs")]
        waited_secs: u64,
    }

    /// The host state, in 0.1.
    #[derive(Debug, Clone, ComponentType, Lift, Lower)]
    #[component(record)]
    pub struct HostState {
        #[component(name = "now-unix-ms")]
        now_unix_ms: u64,
        running: Vec<TaskView>,
        queued: Vec<TaskView>,
        #[component(name = "awaiting-review")]
        awaiting_review: Vec<WaitingTask>,
    }

    /// The admission answer in 0.1, which had no `wait`.
    #[derive(Debug, Clone, ComponentType, Lift, Lower)]
    #[component(variant)]
    pub enum Admission {
        #[component(name = "start")]
        Start,
        #[component(name = "hold")]
        Hold(String),
        #[component(name = "reject")]
        Reject(String),
    }

    impl From<Admission> for sdk::Admission {
        fn from(answer: Admission) -> Self {
            match answer {
                Admission::Start => sdk::Admission::Start,
                Admission::Hold(reason) => sdk::Admission::Hold(reason),
                Admission::Reject(reason) => sdk::Admission::Reject(reason),
            }
        }
    }

    impl From<&sdk::TaskView> for TaskView {
        fn from(task: &sdk::TaskView) -> Self {
            TaskView {
                id: task.id.clone(),
                title: task.title.clone(),
                repo: task.repo.clone(),
                scope_entries: task.scope_entries,
            }
        }
    }

    impl From<&sdk::HostState> for HostState {
        fn from(state: &sdk::HostState) -> Self {
            HostState {
                now_unix_ms: state.now_unix_ms,
                running: state.running.iter().map(TaskView::from).collect(),
                queued: state.queued.iter().map(TaskView::from).collect(),
                awaiting_review: state
                    .awaiting_review
                    .iter()
                    .map(|waiting| WaitingTask {
                        task: TaskView::from(&waiting.task),
                        waited_secs: waiting.waited_secs,
                    })
                    .collect(),
            }
        }
    }
}

mod bindings {
    wasmtime::component::bindgen!({
        path: "../sdk/wit-0.1",
        world: "policy",
        with: { "agenthost:policy/types": super::wire },
    });
}

pub(super) use bindings::exports::agenthost::policy::{acceptance, admission, config, review};
