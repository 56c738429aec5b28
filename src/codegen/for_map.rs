//! `for ($kv : @map) { … }`: the body as a static callback of `bpf_for_each_map_elem`, with
//! its entry's key and value in the loop variable, and a per-CPU value combined over every CPU.

use super::expr::V;
use super::{CodegenError, Func, Gen, Result};
use crate::parser::ast::Stmt;
use crate::sema::Type;
use inkwell::basic_block::BasicBlock;
use inkwell::values::PointerValue;
use libbpf_rs::libbpf_sys as sys;

impl<'ctx, 'm> Gen<'ctx, 'm> {
    /// `for ($kv : @map) { … }`: the body becomes a callback that `bpf_for_each_map_elem`
    /// calls with each entry's key and value. It finds string and tuple variables in the
    /// variables map, as the program does, and the integer variables it shares with the
    /// program through pointers in its context (they stay on the stack, where the verifier
    /// can follow loop counters); `continue` returns 0 (next entry), `break` and `exit()` 1.
    pub(super) fn for_map(&mut self, f: &mut Func<'ctx>, s: &Stmt, body: &[Stmt]) -> Result<()> {
        let info = self.checked.progs[f.prog]
            .map_loops
            .get(&s.span.start)
            .cloned()
            .ok_or_else(|| CodegenError("unchecked for loop".into()))?;
        let name = format!("{}_for{}", self.checked.plan.probes[f.prog].prog_name, s.span.start);
        let ptr = self.ctx.ptr_type(inkwell::AddressSpace::default());
        let (mut g, [key_ptr, value_ptr, ctx_ptr], caller) = self.begin_callback(f, &name)?;
        let (function, entry) = (g.function, g.entry);
        let start = self.builder.get_insert_block().ok_or_else(|| CodegenError("no block".into()))?;
        self.bind_vars(&mut g, None)?;
        // The integer variables shared with the caller: the context holds pointers to them.
        for (i, name) in info.captured.iter().enumerate() {
            let at = self.offset(ctx_ptr, 8 * i as u64)?;
            let p = self.builder.build_load(ptr, at, name)?.into_pointer_value();
            g.vars.insert(name.clone(), p);
        }
        // $kv = (key, value), into the loop variable's own layout.
        let Some(&Type::Tuple(kv)) = self.checked.progs[f.prog].vars.get(&info.var) else {
            return Err(CodegenError("loop variable without a tuple type".into()));
        };
        let slot = self.var_slot(&mut g, &info.var, Type::Tuple(kv))?;
        let kv_kind = self.tuple_kind(kv);
        self.zero(slot, kv_kind.size() as u32)?;
        let fields = self.checked.plan.tuples[kv as usize].fields.clone();
        let (global, def) = self.maps.get(info.map)?;
        for (i, (field, (p, kind))) in fields.iter().zip([(key_ptr, info.key), (value_ptr, info.value)]).enumerate() {
            let v = if i == 1 && def.per_cpu() {
                V::Int(self.all_cpus(&mut g, info.map, key_ptr, def.value)?)
            } else {
                self.value_at(p, kind)?
            };
            self.store_value(slot, field.offset as u64, field.kind, v)?;
        }
        let next = self.ctx.append_basic_block(function, "next");
        let stop = self.ctx.append_basic_block(function, "stop");
        g.loops.push((next, stop));
        self.stmts(&mut g, body)?;
        if self.builder.get_insert_block().and_then(|b| b.get_terminator()).is_none() {
            self.builder.build_unconditional_branch(next)?;
        }
        for (bb, ret) in [(next, 0), (stop, 1)] {
            self.builder.position_at_end(bb);
            self.builder.build_return(Some(&self.i64().const_int(ret, false)))?;
        }
        g.allocas.position_at_end(entry);
        g.allocas.build_unconditional_branch(start)?;

        self.builder.position_at_end(caller);
        let context = match info.captured.len() {
            0 => ptr.const_null(),
            n => {
                let array = self.slot(f, ptr.array_type(n as u32).into(), "loopctx")?;
                for (i, name) in info.captured.iter().enumerate() {
                    let var = self.var_slot(f, name, Type::Int { signed: true })?;
                    self.builder.build_store(self.offset(array, 8 * i as u64)?, var)?;
                }
                array
            }
        };
        let callback = function.as_global_value().as_pointer_value();
        let map = self.map_ptr(global);
        let zero = self.i64().const_zero();
        self.call_helper(sys::BPF_FUNC_for_each_map_elem, &[map, callback.into(), context.into(), zero.into()])?;
        Ok(())
    }

    /// Starts a `bpf_for_each_map_elem` callback `name` of the program `f` is in: the
    /// function, its `Func` (the builder placed in its body's first block, after the entry
    /// block of allocas, which the caller ends with a branch to that block), its key, value and
    /// context parameters, and the caller's block to come back to.
    pub(super) fn begin_callback(&mut self, f: &Func<'ctx>, name: &str) -> Result<(Func<'ctx>, [PointerValue<'ctx>; 3], BasicBlock<'ctx>)> {
        let ptr = self.ctx.ptr_type(inkwell::AddressSpace::default());
        let fn_type = self.i64().fn_type(&[ptr.into(); 4], false);
        let function = self.module.add_function(name, fn_type, Some(inkwell::module::Linkage::Internal));
        function.set_section(Some(".text"));
        let nounwind = self.ctx.create_enum_attribute(inkwell::attributes::Attribute::get_named_enum_kind_id("nounwind"), 0);
        function.add_attribute(inkwell::attributes::AttributeLoc::Function, nounwind);
        self.btf.callback(function, name);
        let param = |i: u32| -> Result<PointerValue<'ctx>> {
            Ok(function.get_nth_param(i).ok_or_else(|| CodegenError("callback parameter".into()))?.into_pointer_value())
        };
        let params = [param(1)?, param(2)?, param(3)?];
        let caller = self.builder.get_insert_block().ok_or_else(|| CodegenError("no block".into()))?;
        let entry = self.ctx.append_basic_block(function, "entry");
        let start = self.ctx.append_basic_block(function, "start");
        let allocas = self.ctx.create_builder();
        allocas.position_at_end(entry);
        self.builder.position_at_end(start);
        let g = Func {
            function,
            ctx_ptr: params[2],
            allocas,
            entry,
            vars: Default::default(),
            prog: f.prog,
            loops: Vec::new(),
            temps: Vec::new(),
            free: Default::default(),
            short_slots: Default::default(),
            var_offsets: f.var_offsets.clone(),
            callback: true,
            params: None,
            core_chains: Default::default(),
        };
        Ok((g, params, caller))
    }
}
