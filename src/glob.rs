//! Shell-style wildcard matching (`*` only) of probe, function and symbol names, as attach
//! points (`kprobe:vfs_*`) and `rtrace -l PATTERN` write them.

/// Whether `s` matches `pattern`, where `*` matches any run of characters.
pub fn glob(pattern: &str, s: &str) -> bool {
    // Iterative, backtracking only to the last `*`: O(len(pattern) * len(s)); the recursive
    // version was exponential in the number of `*`s (a hang found by fuzz/). Bytes suffice: `*`
    // is ASCII and a literal UTF-8 sequence only matches at a character boundary.
    let (p, s) = (pattern.as_bytes(), s.as_bytes());
    let (mut pi, mut si) = (0, 0);
    // After the last `*` seen: where the pattern resumes, and where in `s` that was tried.
    let mut star: Option<(usize, usize)> = None;
    while si < s.len() {
        if pi < p.len() && p[pi] == b'*' {
            pi += 1;
            star = Some((pi, si));
        } else if pi < p.len() && p[pi] == s[si] {
            pi += 1;
            si += 1;
        } else if let Some((sp, ss)) = star {
            pi = sp;
            si = ss + 1;
            star = Some((sp, ss + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globbing() {
        assert!(glob("sys_enter_open*", "sys_enter_openat"));
        assert!(glob("*", "x"));
        assert!(glob("a*c*e", "abcde"));
        assert!(!glob("sys_enter_open*", "sys_exit_open"));
    }
}
