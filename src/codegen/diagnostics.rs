//! LLVM's diagnostics (e.g. "BPF stack limit exceeded"), collected instead of printed. Without
//! a handler, LLVM prints an error and exits the process; with this one, codegen turns it into
//! an error the driver reports.

use inkwell::context::Context;
use inkwell::llvm_sys::core::{LLVMContextSetDiagnosticHandler, LLVMDisposeMessage, LLVMGetDiagInfoDescription, LLVMGetDiagInfoSeverity};
use inkwell::llvm_sys::prelude::LLVMDiagnosticInfoRef;
use inkwell::llvm_sys::LLVMDiagnosticSeverity;
use std::ffi::{c_void, CStr};

/// The error-severity diagnostics LLVM reported, shared with the handler.
pub(crate) struct Captured(Box<std::cell::RefCell<Vec<String>>>);

impl Captured {
    pub fn first_error(&self) -> Option<String> {
        self.0.borrow().first().cloned()
    }
}

/// Installs the handler on `ctx`; keep the result alive as long as the context.
pub(crate) fn capture(ctx: &Context) -> Captured {
    let store = Box::new(std::cell::RefCell::new(Vec::new()));
    let ptr = &*store as *const std::cell::RefCell<Vec<String>> as *mut c_void;
    // SAFETY: the handler only runs during LLVM calls on this context, all of which happen
    // while `Captured` (which owns the boxed store the pointer refers to) is alive, because
    // `compile` holds it until it returns, after the last LLVM call on the context.
    unsafe { LLVMContextSetDiagnosticHandler(ctx.raw(), Some(handler), ptr) };
    Captured(store)
}

extern "C" fn handler(info: LLVMDiagnosticInfoRef, store: *mut c_void) {
    // SAFETY: `store` is the pointer `capture` registered, valid while LLVM can call us; the
    // description is a C string LLVM allocates and we free with LLVMDisposeMessage.
    unsafe {
        if LLVMGetDiagInfoSeverity(info) != LLVMDiagnosticSeverity::LLVMDSError {
            return;
        }
        let desc = LLVMGetDiagInfoDescription(info);
        let text = CStr::from_ptr(desc).to_string_lossy().into_owned();
        LLVMDisposeMessage(desc);
        let store = &*(store as *const std::cell::RefCell<Vec<String>>);
        store.borrow_mut().push(text);
    }
}

/// The function an LLVM "BPF stack limit exceeded" error names, if `e` is one.
pub(crate) fn stack_limit_function(e: &str) -> Option<&str> {
    if !e.contains("stack limit") {
        return None;
    }
    e.split("in function ").nth(1).and_then(|s| s.split_whitespace().next())
}
