//! C++ symbols for uprobes' `cpp:` qualifier: demangling (the `cpp_demangle` crate), and
//! matching a pattern against a symbol's demangled name as bpftrace does.

use crate::glob::glob;

/// The demangled name of an Itanium-ABI C++ symbol (`_ZN5MyApp6Server5closeEi` is
/// `MyApp::Server::close(int)`); `None` for other symbols.
pub fn demangle(symbol: &str) -> Option<String> {
    if !symbol.starts_with("_Z") {
        return None;
    }
    cpp_demangle::Symbol::new(symbol.as_bytes()).ok()?.demangle().ok()
}

/// Whether a C++ symbol matches `pattern` by its demangled name, whose parameter list is left
/// out unless the pattern has one (`MyApp::Server::*` matches `MyApp::Server::close(int)`).
pub fn matches(pattern: &str, symbol: &str) -> bool {
    let Some(demangled) = demangle(symbol) else { return false };
    match pattern.contains('(') {
        true => glob(pattern, &demangled),
        false => glob(pattern, without_parameters(&demangled)),
    }
}

/// A demangled function name without its parameter list (and what follows it, `const`).
fn without_parameters(name: &str) -> &str {
    let Some(close) = name.rfind(')') else { return name };
    let mut depth = 0;
    for (i, c) in name[..=close].char_indices().rev() {
        match c {
            ')' => depth += 1,
            '(' if depth == 1 => return &name[..i],
            '(' => depth -= 1,
            _ => {}
        }
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demangled_names_match_without_parameters() {
        assert_eq!(demangle("_ZN5MyApp6Server5closeEi").as_deref(), Some("MyApp::Server::close(int)"));
        assert!(matches("MyApp::Server::*", "_ZN5MyApp6Server5closeEi"));
        assert!(matches("MyApp::Server::close", "_ZN5MyApp6Server5closeEi"));
        assert!(matches("MyApp::Server::close(int)", "_ZN5MyApp6Server5closeEi"));
        assert!(!matches("MyApp::Server::close(long)", "_ZN5MyApp6Server5closeEi"));
        assert!(!matches("close", "close"));
        assert_eq!(without_parameters("f(void (*)(int)) const"), "f");
    }
}
