//! `review-bandwidth`: agenthost's built-in admission policy, an ordinary SDK user.
//!
//! Review bandwidth is the limit, not compute. A new task is held (never rejected) while
//!
//! - as many agents run as the current stage of the ramp allows (`ramp = [3, 6, 8]`,
//!   `stage = 1` by default: start with 3, move to 6 when comfortable, 8 is full capacity);
//! - `max_waiting` finished tasks (default 4) wait for review: launch in batches, review,
//!   then launch more;
//! - the oldest finished task has waited longer than `max_wait_minutes` (default 120):
//!   review it while its context is fresh.

use agenthost_policy::{Admission, AdmissionRequest, Hook, Policy};
use serde::Deserialize;

/// The policy.
struct ReviewBandwidth;

/// Its settings under `[policies.review-bandwidth.config]`.
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct Config {
    ramp: Vec<usize>,
    stage: usize,
    max_waiting: usize,
    max_wait_minutes: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            ramp: vec![3, 6, 8],
            stage: 1,
            max_waiting: 4,
            max_wait_minutes: 120,
        }
    }
}

impl Config {
    fn parse(value: &serde_json::Value) -> Result<Config, String> {
        let config = Config::deserialize(value).map_err(|err| err.to_string())?;
        if config.ramp.is_empty() || config.ramp.contains(&0) {
            return Err("`ramp` must list at least one limit, each at least 1".to_string());
        }
        if config.stage == 0 || config.stage > config.ramp.len() {
            return Err(format!(
                "`stage` must be between 1 and {} (the ramp's length)",
                config.ramp.len()
            ));
        }
        Ok(config)
    }
}

impl Policy for ReviewBandwidth {
    const HOOKS: &'static [Hook] = &[Hook::Admission, Hook::ValidateConfig];

    fn admission(&self, request: &AdmissionRequest) -> Admission {
        let config = match Config::parse(&request.config) {
            Ok(config) => config,
            Err(err) => {
                return Admission::Hold(format!(
                    "invalid [policies.review-bandwidth.config]: {err}"
                ));
            }
        };
        let state = &request.state;
        let limit = config.ramp[config.stage - 1];
        if state.running.len() >= limit {
            return Admission::Hold(format!(
                "{} agents are running, the limit at stage {} of the ramp {:?}; the task starts \
                 when one finishes",
                state.running.len(),
                config.stage,
                config.ramp
            ));
        }
        let waiting = state.awaiting_review.len();
        if waiting >= config.max_waiting {
            return Admission::Hold(format!(
                "{waiting} finished tasks wait for review (limit {}); review them, then launch \
                 the next batch",
                config.max_waiting
            ));
        }
        if let Some(oldest) = state.awaiting_review.iter().max_by_key(|w| w.waited_secs)
            && oldest.waited_secs > config.max_wait_minutes * 60
        {
            return Admission::Hold(format!(
                "`{}` has waited {} minutes for review (limit {}); review it while its context \
                 is fresh",
                oldest.task.id,
                oldest.waited_secs / 60,
                config.max_wait_minutes
            ));
        }
        Admission::Start
    }

    fn validate_config(&self, config: &serde_json::Value) -> Vec<String> {
        Config::parse(config).err().into_iter().collect()
    }
}

agenthost_policy::export_policy!(ReviewBandwidth, [Admission, ValidateConfig]);

#[cfg(test)]
mod tests {
    use super::*;
    use agenthost_policy::{HostState, TaskView, WaitingTask};

    fn task(id: &str) -> TaskView {
        TaskView {
            id: id.into(),
            title: id.into(),
            repo: "/r".into(),
            scope_entries: 2,
            ..TaskView::default()
        }
    }

    fn admit(running: usize, waiting: &[u64], config: serde_json::Value) -> Admission {
        ReviewBandwidth.admission(&AdmissionRequest {
            config,
            task: task("new"),
            state: HostState {
                now_unix_ms: 1_000_000,
                running: (0..running).map(|i| task(&format!("r{i}"))).collect(),
                queued: Vec::new(),
                awaiting_review: waiting
                    .iter()
                    .enumerate()
                    .map(|(i, secs)| WaitingTask {
                        task: task(&format!("w{i}")),
                        waited_secs: *secs,
                    })
                    .collect(),
            },
        })
    }

    fn held(answer: Admission) -> String {
        match answer {
            Admission::Hold(reason) => reason,
            other => panic!("expected hold, got {other:?}"),
        }
    }

    #[test]
    fn starts_while_there_is_room() {
        assert_eq!(admit(2, &[60], serde_json::json!({})), Admission::Start);
    }

    #[test]
    fn the_ramp_limits_running_agents() {
        let reason = held(admit(3, &[], serde_json::json!({})));
        assert!(
            reason.starts_with("3 agents are running, the limit at stage 1"),
            "{reason}"
        );
        assert_eq!(
            admit(5, &[], serde_json::json!({ "stage": 2 })),
            Admission::Start
        );
        held(admit(8, &[], serde_json::json!({ "stage": 3 })));
    }

    #[test]
    fn too_much_waiting_work_holds() {
        let reason = held(admit(0, &[1, 2, 3, 4], serde_json::json!({})));
        assert!(
            reason.starts_with("4 finished tasks wait for review"),
            "{reason}"
        );
    }

    #[test]
    fn an_old_review_holds() {
        let reason = held(admit(0, &[60, 2 * 3600 + 60], serde_json::json!({})));
        assert_eq!(
            reason,
            "`w1` has waited 121 minutes for review (limit 120); review it while its context is fresh"
        );
    }

    #[test]
    fn config_is_validated() {
        assert_eq!(
            ReviewBandwidth.validate_config(&serde_json::json!({ "stage": 4 })),
            vec!["`stage` must be between 1 and 3 (the ramp's length)".to_string()]
        );
        held(admit(0, &[], serde_json::json!({ "ramp": [] })));
    }
}
