//! Calling a loaded policy: a typed component through its WIT exports, a WASI command
//! with JSON on stdin and stdout.

use std::time::{Duration, Instant};

use agenthost_policy::{AcceptanceRequest, AdmissionRequest, ConfigRequest, Hook, ReviewRequest};
use serde::de::DeserializeOwned;
use wasmtime_wasi::I32Exit;

use super::{Call, Engine, LoadedPolicy, Pre, Raw};
use crate::policy::PolicyError;
use crate::policy::guest::{MemoryGuard, ModuleState, hook_list};
use crate::policy::typed::{CallError, HookRequest, json_size};

impl Engine {
    /// Calls `hook` with a JSON request (as `agenthost policy test` reads it) and returns
    /// the answer as JSON, whichever ABI the policy speaks. `describe` returns the hooks.
    pub fn call_json(
        &self,
        policy: &LoadedPolicy,
        hook: Hook,
        request: &[u8],
    ) -> Result<Call<serde_json::Value>, PolicyError> {
        fn json<R: HookRequest + DeserializeOwned>(
            engine: &Engine,
            policy: &LoadedPolicy,
            request: &[u8],
        ) -> Result<Call<serde_json::Value>, PolicyError> {
            let request: R =
                serde_json::from_slice(request).map_err(|err| PolicyError::BadRequest {
                    policy: policy.name.clone(),
                    hook: R::HOOK,
                    reason: err.to_string(),
                })?;
            let call = engine.call(policy, &request)?;
            let answer = serde_json::to_value(&call.answer).map_err(|err| PolicyError::Engine {
                reason: format!("cannot encode the answer: {err}"),
            })?;
            Ok(Call {
                answer,
                elapsed: call.elapsed,
                peak_memory: call.peak_memory,
                log: call.log,
            })
        }
        match hook {
            Hook::Acceptance => json::<AcceptanceRequest>(self, policy, request),
            Hook::Admission => json::<AdmissionRequest>(self, policy, request),
            Hook::Review => json::<ReviewRequest>(self, policy, request),
            Hook::ValidateConfig => json::<ConfigRequest>(self, policy, request),
            Hook::Describe => match &policy.pre {
                Pre::Typed(_, exports) => Ok(Call {
                    answer: serde_json::json!({
                        "abi": exports.version(),
                        "hooks": policy.hooks,
                    }),
                    elapsed: Duration::ZERO,
                    peak_memory: 0,
                    log: String::new(),
                }),
                _ => self.call_command_json(policy, hook, b""),
            },
        }
    }

    /// Runs a WASI command with the JSON `request` as it is, and reads the answer as `A`.
    pub(super) fn call_command_json<A: DeserializeOwned>(
        &self,
        policy: &LoadedPolicy,
        hook: Hook,
        request: &[u8],
    ) -> Result<Call<A>, PolicyError> {
        let started = Instant::now();
        let raw = self.run(policy, hook, request);
        let elapsed = started.elapsed();
        let result = raw.and_then(|raw| match serde_json::from_slice(&raw.stdout) {
            Ok(answer) => Ok(Call {
                answer,
                elapsed,
                peak_memory: raw.peak_memory,
                log: raw.log,
            }),
            Err(err) => Err((
                PolicyError::BadAnswer {
                    policy: policy.name.clone(),
                    hook,
                    reason: if raw.stdout.is_empty() {
                        "it wrote nothing to stdout".to_string()
                    } else {
                        err.to_string()
                    },
                },
                raw.log,
            )),
        });
        match result {
            Ok(call) => {
                self.append_log(policy, hook, None, &call.log);
                Ok(call)
            }
            Err((err, log)) => {
                self.append_log(policy, hook, Some(&err), &log);
                Err(err)
            }
        }
    }

    /// Instantiates a typed component once at load time and type-checks its exports.
    pub(super) fn check_typed(&self, policy: &LoadedPolicy) -> Result<(), PolicyError> {
        let Pre::Typed(pre, exports) = &policy.pre else {
            return Ok(());
        };
        let (mut wasi, pipes) = self.wasi(&[policy.name.as_str()], b"");
        let mut store = self.store(self.component_state(&mut wasi), Hook::Describe);
        let instance = match pre.instantiate(&mut store) {
            Ok(instance) => instance,
            Err(err) => {
                let guard = store.into_data().guard;
                return Err(self.failure(policy, Hook::Describe, err, &guard, &pipes).0);
            }
        };
        exports
            .check(&mut store, &instance)
            .map_err(|err| PolicyError::WrongTypes {
                policy: policy.name.clone(),
                reason: format!("{err:#}"),
            })
    }

    /// One call of a typed component in a fresh instance.
    pub(super) fn call_typed<R: HookRequest>(
        &self,
        policy: &LoadedPolicy,
        request: &R,
    ) -> Result<Call<R::Answer>, PolicyError> {
        let hook = R::HOOK;
        let Pre::Typed(pre, exports) = &policy.pre else {
            return Err(PolicyError::Engine {
                reason: format!("policy `{}` is not a typed component", policy.name),
            });
        };
        let size = json_size(request);
        if size > self.limits.request {
            return Err(PolicyError::RequestTooLarge {
                policy: policy.name.clone(),
                hook,
                size,
                limit: self.limits.request,
            });
        }
        let started = Instant::now();
        // Whatever a typed policy prints, on stdout or stderr, is its log.
        let (mut wasi, pipes) = self.wasi(&[policy.name.as_str()], b"");
        wasi.stdout(pipes.stderr.clone());
        let mut store = self.store(self.component_state(&mut wasi), hook);
        let result = pre
            .instantiate(&mut store)
            .map_err(CallError::Wasm)
            .and_then(|instance| request.call_typed(exports, &mut store, &instance));
        let elapsed = started.elapsed();
        let guard = store.into_data().guard;
        let raw = match result {
            Ok(answer) => {
                let log = String::from_utf8_lossy(&pipes.stderr.contents()).into_owned();
                let size = json_size(&answer);
                if size > self.limits.answer {
                    Err((
                        PolicyError::OutputTooLarge {
                            policy: policy.name.clone(),
                            hook,
                            stream: "its answer",
                            limit: self.limits.answer,
                        },
                        log,
                    ))
                } else {
                    Ok((answer, log))
                }
            }
            Err(CallError::Missing) => {
                return Err(PolicyError::MissingHook {
                    policy: policy.name.clone(),
                    hook,
                    hooks: hook_list(&policy.hooks),
                });
            }
            Err(CallError::Wasm(err)) => Err(self.failure(policy, hook, err, &guard, &pipes)),
        };
        let (answer, log) = match raw {
            Ok((answer, log)) => {
                self.append_log(policy, hook, None, &log);
                (answer, log)
            }
            Err((err, log)) => {
                self.append_log(policy, hook, Some(&err), &log);
                return Err(err);
            }
        };
        Ok(Call {
            answer,
            elapsed,
            peak_memory: guard.peak,
            log,
        })
    }

    /// Runs a WASI command once in a fresh store: argv `[name, hook]`, `request` on stdin.
    /// A failure comes with the guest's log.
    pub(super) fn run(
        &self,
        policy: &LoadedPolicy,
        hook: Hook,
        request: &[u8],
    ) -> Result<Raw, (PolicyError, String)> {
        let limits = &self.limits;
        if request.len() > limits.request {
            return Err((
                PolicyError::RequestTooLarge {
                    policy: policy.name.clone(),
                    hook,
                    size: request.len(),
                    limit: limits.request,
                },
                String::new(),
            ));
        }
        let (mut wasi, pipes) = self.wasi(&[policy.name.as_str(), hook.name()], request);
        let (result, guard) = match &policy.pre {
            Pre::Module(pre) => {
                let state = ModuleState {
                    wasi: wasi.build_p1(),
                    guard: MemoryGuard::new(limits.memory),
                };
                let mut store = self.store(state, hook);
                let result = pre.instantiate(&mut store).and_then(|instance| {
                    let start = instance.get_typed_func::<(), ()>(&mut store, "_start")?;
                    start.call(&mut store, ())
                });
                (result.map(|()| Ok(())), store.into_data().guard)
            }
            Pre::Component(pre) => {
                let mut store = self.store(self.component_state(&mut wasi), hook);
                let result = pre
                    .instantiate(&mut store)
                    .and_then(|command| command.wasi_cli_run().call_run(&mut store));
                (result, store.into_data().guard)
            }
            Pre::Typed(..) => {
                return Err((
                    PolicyError::Engine {
                        reason: format!("policy `{}` is a typed component", policy.name),
                    },
                    String::new(),
                ));
            }
        };
        let log = String::from_utf8_lossy(&pipes.stderr.contents()).into_owned();
        match result {
            Ok(Ok(())) => {}
            Ok(Err(())) => {
                return Err((
                    PolicyError::Exit {
                        policy: policy.name.clone(),
                        hook,
                        code: 1,
                        log: log.clone(),
                    },
                    log,
                ));
            }
            Err(err) => match err.downcast_ref::<I32Exit>() {
                Some(I32Exit(0)) => {}
                Some(I32Exit(code)) => {
                    return Err((
                        PolicyError::Exit {
                            policy: policy.name.clone(),
                            hook,
                            code: *code,
                            log: log.clone(),
                        },
                        log,
                    ));
                }
                None => return Err(self.failure(policy, hook, err, &guard, &pipes)),
            },
        }
        Ok(Raw {
            stdout: pipes.stdout.contents().to_vec(),
            log,
            peak_memory: guard.peak,
        })
    }
}
