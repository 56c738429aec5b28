//! How much input rtrace takes: the size of a script, how deeply it nests, how many
//! statements, attach points and programs it may have, and how much `cat()` prints. Every
//! limit is here, as a field of [`Limits`] with its default, so that one place (the
//! environment today, a `config = { … }` block later) can set them; each limit that is met
//! ends in a diagnostic that names it. Those bpftrace has as config variables (`max_probes`,
//! `max_bpf_progs`, `max_cat_bytes`) keep its names and defaults (0.26's) and are read from its
//! environment variables (`BPFTRACE_MAX_PROBES`…); the others bpftrace does not have, and
//! they are fixed.

/// The limits in force for one run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Bytes of script text (`-e`, a file or stdin). An endless file such as `/dev/zero`
    /// stops here instead of filling memory.
    pub max_script_bytes: usize,
    /// Levels of nesting: brackets (`{`, `(`, `[`) open at once, and operators applied to
    /// an operand (`!!!x`, `1 + 1 + … + 1`). The front end recurses once a level.
    pub max_nesting: usize,
    /// Statements in the whole script, after macros are expanded.
    pub max_statements: usize,
    /// Attach points after wildcards are expanded (bpftrace's `max_probes`).
    pub max_probes: usize,
    /// BPF programs generated (bpftrace's `max_bpf_progs`); wildcard matches and probes that
    /// differ only in literals share one.
    pub max_bpf_progs: usize,
    /// Bytes `cat()` prints of a file (bpftrace's `max_cat_bytes`).
    pub max_cat_bytes: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_script_bytes: 10 << 20,
            max_nesting: 1000,
            max_statements: 100_000,
            max_probes: 1024,
            max_bpf_progs: 1024,
            max_cat_bytes: 10240,
        }
    }
}

/// The limits set by environment variables, with the names of the config variable and of
/// every environment variable that sets it (bpftrace's current name first, 0.17's after).
const FROM_ENV: [(&str, &[&str]); 3] = [
    ("max_probes", &["BPFTRACE_MAX_PROBES"]),
    ("max_bpf_progs", &["BPFTRACE_MAX_BPF_PROGS"]),
    ("max_cat_bytes", &["BPFTRACE_MAX_CAT_BYTES", "BPFTRACE_CAT_BYTES_MAX"]),
];

impl Limits {
    /// The defaults, with what the environment sets; `Err` names a variable whose value is not
    /// a number.
    pub fn from_env() -> Result<Limits, String> {
        Limits::from_vars(|name| std::env::var(name).ok())
    }

    /// As `from_env`, reading variables through `var`.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Limits, String> {
        let mut limits = Limits::default();
        for (config, names) in FROM_ENV {
            let Some((name, value)) = names.iter().find_map(|n| var(n).map(|v| (*n, v))) else { continue };
            let n = value.trim().parse::<usize>().map_err(|_| format!("{name}: `{value}` is not a number"))?;
            limits.set(config, n);
        }
        Ok(limits)
    }

    /// Whether an environment variable (`is_set` says which are) sets the limit config variable
    /// `config` names: it then wins over the config block.
    pub fn set_in_env(config: &str, is_set: impl Fn(&str) -> bool) -> bool {
        FROM_ENV.iter().any(|(c, names)| *c == config && names.iter().any(|n| is_set(n)))
    }

    /// Sets the limit a config variable names (`max_probes`…); false if there is none.
    pub fn set(&mut self, config: &str, value: usize) -> bool {
        let field = match config {
            "max_probes" => &mut self.max_probes,
            "max_bpf_progs" => &mut self.max_bpf_progs,
            "max_cat_bytes" => &mut self.max_cat_bytes,
            _ => return false,
        };
        *field = value;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_sets_bpftrace_limits() {
        let env = |n: &str| match n {
            "BPFTRACE_MAX_PROBES" => Some("7".to_string()),
            "BPFTRACE_CAT_BYTES_MAX" => Some("100".to_string()),
            _ => None,
        };
        let l = Limits::from_vars(env).unwrap();
        assert_eq!((l.max_probes, l.max_cat_bytes, l.max_bpf_progs), (7, 100, 1024));
        let bad = Limits::from_vars(|n| (n == "BPFTRACE_MAX_BPF_PROGS").then(|| "many".to_string()));
        assert_eq!(bad.unwrap_err(), "BPFTRACE_MAX_BPF_PROGS: `many` is not a number");
    }
}
