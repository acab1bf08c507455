//! The environment and the network: the variables a run gets (and which ones `launch`
//! sends), and the TCP ports it may connect to.

use super::*;

/// The variables of this process that `launch` sends with a task
/// (`is_launch_variable`).
pub fn launch_env() -> BTreeMap<String, String> {
    std::env::vars()
        .filter(|(name, _)| is_launch_variable(name))
        .collect()
}

/// Whether `launch` sends a variable of the client's to the supervisor for the task: PATH,
/// the variables that locate toolchains, caches and virtual environments, and the package
/// managers' settings (never one that looks like a secret).
pub(crate) fn is_launch_variable(name: &str) -> bool {
    name == "PATH"
        || TOOLCHAIN_VARS.contains(&name)
        || HOME_TOOLCHAINS.iter().any(|(var, _)| *var == name)
        || crate::confinement::caches::is_cache_variable(name)
        || is_package_manager_var(name)
}

/// Whether a host variable configures a package manager, a proxy or certificates, which the
/// setup and test runs are given (the agent gets only its profile's `pass_env`). Names that
/// look like secrets (tokens, passwords, keys) are never passed.
pub(super) fn is_package_manager_var(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    let secret = ["TOKEN", "PASSWORD", "SECRET", "AUTH", "_KEY", "CREDENTIAL"]
        .iter()
        .any(|word| upper.contains(word));
    let prefixes = [
        "PIP_",
        "NPM_CONFIG_",
        "UV_",
        "CARGO_",
        "PYTHON",
        "NODE_",
        "PNPM_",
        "YARN_",
    ];
    let exact = [
        "GOPROXY",
        "GOFLAGS",
        "GOPATH",
        "GOPRIVATE",
        "GONOPROXY",
        "GONOSUMDB",
        "GOSUMDB",
        "GOTOOLCHAIN",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "NO_PROXY",
        "ALL_PROXY",
        "SSL_CERT_FILE",
        "SSL_CERT_DIR",
        "REQUESTS_CA_BUNDLE",
        "CURL_CA_BUNDLE",
        "VIRTUAL_ENV",
        "CI",
    ];
    !secret
        && (prefixes.iter().any(|prefix| upper.starts_with(prefix))
            || exact.contains(&upper.as_str()))
}

/// Whether an agent variable names a model API's base URL (`ANTHROPIC_BASE_URL`,
/// `OPENAI_BASE_URL`, `GOOGLE_GEMINI_BASE_URL`, litellm's `OPENAI_API_BASE`).
pub(super) fn is_base_url_var(name: &str) -> bool {
    name.ends_with("_BASE_URL") || name.ends_with("_API_BASE")
}

/// The TCP port of an `http`/`https` URL: its explicit port, else 80 or 443.
pub(super) fn url_port(url: &str) -> Option<u16> {
    let (scheme, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    let host_port = authority.rsplit('@').next()?;
    // `[::1]:8080`: the port is after the closing bracket.
    let after_host = match host_port.rfind(']') {
        Some(end) => &host_port[end + 1..],
        None => host_port,
    };
    match after_host.rsplit_once(':') {
        Some((_, port)) => port.parse().ok(),
        None => match scheme.to_ascii_lowercase().as_str() {
            "https" => Some(443),
            "http" => Some(80),
            _ => None,
        },
    }
}

impl Builder<'_> {
    pub(super) fn env(&mut self) -> BTreeMap<String, String> {
        let host = &self.input.host_env;
        let mut env = BTreeMap::new();
        env.insert(
            "PATH".to_string(),
            host.get("PATH")
                .cloned()
                .unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".to_string()),
        );
        let home = self.input.agent_home.as_ref().unwrap_or(&self.input.home);
        env.insert("HOME".to_string(), home.display().to_string());
        if let Some(private) = &self.input.agent_home {
            for (var, dir) in crate::confinement::agent_home::XDG_DIRS {
                env.insert(var.to_string(), private.join(dir).display().to_string());
            }
            for (var, path) in &self.home_toolchains {
                env.insert(var.to_string(), path.display().to_string());
            }
            // git's user configuration stays the user's (read-only), not the private home's.
            if let Some(config) = [".gitconfig", ".config/git/config"]
                .iter()
                .map(|name| self.input.home.join(name))
                .find(|path| path.is_file())
            {
                env.insert(
                    "GIT_CONFIG_GLOBAL".to_string(),
                    config.display().to_string(),
                );
            }
        }
        env.insert(
            "TMPDIR".to_string(),
            self.input.tmpdir.display().to_string(),
        );
        env.insert(
            "LANG".to_string(),
            host.get("LANG")
                .cloned()
                .unwrap_or_else(|| "C.UTF-8".to_string()),
        );
        if let Some(term) = host.get("TERM") {
            env.insert("TERM".to_string(), term.clone());
        }
        for var in TOOLCHAIN_VARS {
            if let Some(value) = host.get(*var) {
                env.insert((*var).to_string(), value.clone());
            }
        }
        // The caches: where the tools find them. A cache a tool cannot use read-only keeps
        // the private home's for the agent and the tests.
        let writable_caches = matches!(self.input.purpose, Purpose::Setup { .. });
        for cache in &self.caches {
            if let Some(var) = cache.var
                && (writable_caches || cache.read_only_ok)
            {
                env.insert(var.to_string(), cache.path.display().to_string());
            }
        }
        if !matches!(self.input.purpose, Purpose::Agent) {
            for (var, value) in host {
                if is_package_manager_var(var) && !env.contains_key(var) {
                    env.insert(var.clone(), value.clone());
                }
            }
        }
        if let Purpose::Test { config } = self.input.purpose {
            for (key, value) in &config.env {
                env.insert(key.clone(), value.clone());
            }
        }
        if let Some((name, profile)) = self.input.profile {
            for var in &profile.pass_env {
                match host.get(var) {
                    Some(value) => {
                        env.insert(var.clone(), value.clone());
                    }
                    None => self.notes.push(format!(
                        "profile {name}: pass_env `{var}` is not set in agenthost's environment"
                    )),
                }
            }
            let private = self.input.agent_home.as_deref();
            for (key, value) in &profile.env {
                match crate::confinement::agent_home::expand_value(value, private, host) {
                    Ok(Some(expanded)) => {
                        // `{env:NAME}` only fills a variable pass_env left unset.
                        if !(value.contains("{env:") && env.contains_key(key)) {
                            env.insert(key.clone(), expanded);
                        }
                    }
                    Ok(None) => {}
                    Err(why) => self
                        .notes
                        .push(format!("profile {name}: env `{key}`: {why}")),
                }
            }
        }
        env
    }

    pub(super) fn net(&self, env: &BTreeMap<String, String>) -> NetPlan {
        let mut net = NetPlan::default();
        let (ports, source): (&[u16], &str) = match self.input.purpose {
            Purpose::Agent => (&[], ""),
            Purpose::Setup { ports } => (ports, "config [worktree] setup_ports"),
            Purpose::Test { config } => (&config.ports, "config [test] ports"),
        };
        for port in ports {
            net.connect_tcp.push(PortRule {
                port: *port,
                provenance: Provenance::new(source, format!("port {port}")),
            });
        }
        if let Some((name, profile)) = self.input.profile {
            for port in &profile.ports {
                net.connect_tcp.push(PortRule {
                    port: *port,
                    provenance: Provenance::new(format!("profile {name}"), "ports"),
                });
            }
            // A base URL handed to the agent (a proxy, a gateway, a local model server) is
            // where it must connect: its port is allowed too.
            for (var, value) in env {
                if !is_base_url_var(var) {
                    continue;
                }
                if let Some(port) = url_port(value)
                    && !net.connect_tcp.iter().any(|rule| rule.port == port)
                {
                    net.connect_tcp.push(PortRule {
                        port,
                        provenance: Provenance::new(
                            format!("profile {name}"),
                            format!("${var} ({value})"),
                        ),
                    });
                }
            }
        }
        net.inet_sockets = !net.connect_tcp.is_empty();
        net.unix_sockets = self.input.profile.is_some_and(|(_, p)| p.unix_sockets);
        net
    }
}
