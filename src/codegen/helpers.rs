//! Building blocks: BPF helper calls (clang-style, through `inttoptr` of the helper id), stack
//! buffers, and map access.

use super::{Func, Gen, Result, Temp};
use inkwell::types::BasicTypeEnum;
use inkwell::values::{BasicMetadataValueEnum, GlobalValue, IntValue, PointerValue};
use inkwell::AddressSpace;
use libbpf_rs::libbpf_sys as sys;

/// How many statements may use one temporary buffer (see `Gen::buffer`).
const BUFFER_REUSES: u32 = 16;

impl<'ctx, 'm> Gen<'ctx, 'm> {
    /// Calls helper `helper` with 64-bit integer or pointer arguments; returns its i64 result.
    pub fn call_helper(&self, helper: sys::bpf_func_id, args: &[BasicMetadataValueEnum<'ctx>]) -> Result<IntValue<'ctx>> {
        let i64 = self.i64();
        let params: Vec<_> = args
            .iter()
            .map(|a| match a {
                BasicMetadataValueEnum::PointerValue(_) => self.ctx.ptr_type(AddressSpace::default()).into(),
                _ => i64.into(),
            })
            .collect();
        let fn_type = i64.fn_type(&params, false);
        let ptr = self.builder.build_int_to_ptr(
            i64.const_int(helper.into(), false),
            self.ctx.ptr_type(AddressSpace::default()),
            "helper",
        )?;
        let call = self.builder.build_indirect_call(fn_type, ptr, args, "call")?;
        match call.try_as_basic_value() {
            inkwell::values::ValueKind::Basic(v) => Ok(v.into_int_value()),
            _ => Err(super::CodegenError("helper returned no value".into())),
        }
    }

    /// A zeroed stack buffer of `len` bytes for a temporary value, allocated in the entry
    /// block. Its lifetime starts here and ends after the current statement (`end_temps`), so
    /// LLVM can give disjoint temporaries the same stack bytes: BPF has only 512.
    ///
    /// A buffer whose lifetime has ended is reused by a later statement that wants one of the
    /// same length, up to `BUFFER_REUSES` times: a program then has a few allocas per
    /// `BUFFER_REUSES` statements instead of one or two per statement (10,000 statements had
    /// made 20,000 allocas, which LLVM took minutes over and then could not fit in 512 bytes),
    /// and no alloca gets so many users that LLVM's passes over one alloca's users (run again
    /// as each user changes) grow with the square of the program.
    pub fn buffer(&self, f: &mut Func<'ctx>, len: u32, name: &str) -> Result<PointerValue<'ctx>> {
        let reused = f.free.get_mut(&len).and_then(Vec::pop);
        let temp = match reused {
            Some(t) => Temp { uses: t.uses + 1, ..t },
            None => {
                let ty = self.ctx.i8_type().array_type(len.max(1));
                let p = f.allocas.build_alloca(ty, name)?;
                if let Some(inst) = p.as_instruction() {
                    inst.set_alignment(8).map_err(|e| super::CodegenError(e.to_string()))?;
                }
                Temp { p, len, uses: 1 }
            }
        };
        self.lifetime("llvm.lifetime.start", temp.p, len)?;
        f.temps.push(temp);
        self.zero(temp.p, len)?;
        Ok(temp.p)
    }

    /// Ends the lifetime of every temporary made since the last call; later statements may
    /// reuse their buffers.
    pub fn end_temps(&self, f: &mut Func<'ctx>) -> Result<()> {
        for t in std::mem::take(&mut f.temps) {
            self.lifetime("llvm.lifetime.end", t.p, t.len)?;
            if t.uses < BUFFER_REUSES {
                f.free.entry(t.len).or_default().push(t);
            }
        }
        Ok(())
    }

    fn lifetime(&self, intrinsic: &str, p: PointerValue<'ctx>, len: u32) -> Result<()> {
        let ptr_ty = self.ctx.ptr_type(AddressSpace::default());
        let decl = inkwell::intrinsics::Intrinsic::find(intrinsic)
            .and_then(|i| i.get_declaration(self.module, &[ptr_ty.into()]))
            .ok_or_else(|| super::CodegenError(format!("no {intrinsic}")))?;
        self.builder.build_call(decl, &[self.i64().const_int(len.max(1) as u64, false).into(), p.into()], "")?;
        Ok(())
    }

    /// A stack slot of type `ty`, allocated in the entry block.
    pub fn slot(&self, f: &Func<'ctx>, ty: BasicTypeEnum<'ctx>, name: &str) -> Result<PointerValue<'ctx>> {
        Ok(f.allocas.build_alloca(ty, name)?)
    }

    /// A stack slot for a value written and read back (or handed to one helper call) before
    /// any other code is generated, such as a map key: one per `name` in a function, shared by
    /// every such use, so a program's stack does not grow with its statements. `ty` must be
    /// the same at each use of a name.
    pub fn short_slot(&self, f: &mut Func<'ctx>, ty: BasicTypeEnum<'ctx>, name: &'static str) -> Result<PointerValue<'ctx>> {
        if let Some(p) = f.short_slots.get(name) {
            return Ok(*p);
        }
        let p = f.allocas.build_alloca(ty, name)?;
        // 8-aligned, as BPF's stack accesses must be: a byte array holding u64s has
        // LLVM's alignment 1 otherwise.
        if let Some(inst) = p.as_instruction() {
            inst.set_alignment(8).map_err(|e| super::CodegenError(e.to_string()))?;
        }
        f.short_slots.insert(name, p);
        Ok(p)
    }

    pub fn zero(&self, p: PointerValue<'ctx>, len: u32) -> Result<()> {
        self.builder.build_memset(p, 8, self.ctx.i8_type().const_zero(), self.i64().const_int(len as u64, false))?;
        Ok(())
    }

    pub fn copy(&self, dst: PointerValue<'ctx>, src: PointerValue<'ctx>, len: u32) -> Result<()> {
        self.builder.build_memcpy(dst, 1, src, 1, self.i64().const_int(len as u64, false))?;
        Ok(())
    }

    /// `base + offset` bytes.
    pub fn offset(&self, base: PointerValue<'ctx>, offset: u64) -> Result<PointerValue<'ctx>> {
        // SAFETY (LLVM sense): an in-bounds byte offset into a buffer the caller sized.
        Ok(unsafe { self.builder.build_gep(self.ctx.i8_type(), base, &[self.i64().const_int(offset, false)], "off")? })
    }

    pub fn store_i64(&self, p: PointerValue<'ctx>, offset: u64, v: IntValue<'ctx>) -> Result<()> {
        let at = self.offset(p, offset)?;
        let st = self.builder.build_store(at, v)?;
        st.set_alignment(if offset.is_multiple_of(8) { 8 } else { 1 }).map_err(|e| super::CodegenError(e.to_string()))?;
        Ok(())
    }

    pub fn store_u32(&self, p: PointerValue<'ctx>, offset: u64, v: u32) -> Result<()> {
        let at = self.offset(p, offset)?;
        self.builder.build_store(at, self.ctx.i32_type().const_int(v as u64, false))?;
        Ok(())
    }

    pub fn load_i64(&self, p: PointerValue<'ctx>, offset: u64) -> Result<IntValue<'ctx>> {
        let at = self.offset(p, offset)?;
        Ok(self.builder.build_load(self.i64(), at, "v")?.into_int_value())
    }

    pub fn map_ptr(&self, map: GlobalValue<'ctx>) -> BasicMetadataValueEnum<'ctx> {
        map.as_pointer_value().into()
    }

    /// `bpf_map_lookup_elem`: a pointer to the value, or null.
    pub fn lookup(&self, map: GlobalValue<'ctx>, key: PointerValue<'ctx>) -> Result<PointerValue<'ctx>> {
        let r = self.call_helper(sys::BPF_FUNC_map_lookup_elem, &[self.map_ptr(map), key.into()])?;
        Ok(self.builder.build_int_to_ptr(r, self.ctx.ptr_type(AddressSpace::default()), "val")?)
    }

    /// `bpf_map_update_elem`: 0, or a negative error (`-E2BIG`: the map is full).
    pub fn update(&self, map: GlobalValue<'ctx>, key: PointerValue<'ctx>, value: PointerValue<'ctx>, flags: u64) -> Result<IntValue<'ctx>> {
        self.call_helper(sys::BPF_FUNC_map_update_elem, &[self.map_ptr(map), key.into(), value.into(), self.i64().const_int(flags, false).into()])
    }

    /// Updates user map `index` (`update`), counting in `plan::MAP_FULL_MAP` an update the
    /// full map refused (`-E2BIG`): one compare and branch on the way out.
    pub fn update_user(&mut self, f: &mut Func<'ctx>, index: usize, key: PointerValue<'ctx>, value: PointerValue<'ctx>, flags: u64) -> Result<IntValue<'ctx>> {
        let (global, _) = self.maps.get(index)?;
        let r = self.update(global, key, value, flags)?;
        let Some(counters) = self.map_full else { return Ok(r) };
        let e2big = self.i64().const_int((-(libc::E2BIG as i64)) as u64, true);
        let full = self.builder.build_int_compare(inkwell::IntPredicate::EQ, r, e2big, "full")?;
        let full_block = self.ctx.append_basic_block(f.function, "mapfull");
        let after = self.ctx.append_basic_block(f.function, "updated");
        self.builder.build_conditional_branch(full, full_block, after)?;
        self.builder.position_at_end(full_block);
        self.bump_counter(f, counters, index as u32, after)?;
        self.builder.position_at_end(after);
        Ok(r)
    }

    /// Adds one to this CPU's u64 at `slot` of the per-CPU array `map`, then branches to
    /// `after` (where the builder is left positioned by the caller).
    pub fn bump_counter(&mut self, f: &mut Func<'ctx>, map: GlobalValue<'ctx>, slot: u32, after: inkwell::basic_block::BasicBlock<'ctx>) -> Result<()> {
        let key = self.short_slot(f, self.ctx.i32_type().into(), "ctrkey")?;
        self.builder.build_store(key, self.ctx.i32_type().const_int(slot as u64, false))?;
        let counter = self.lookup(map, key)?;
        let bump = self.ctx.append_basic_block(f.function, "bump");
        let is_null = self.builder.build_is_null(counter, "isnull")?;
        self.builder.build_conditional_branch(is_null, after, bump)?;
        self.builder.position_at_end(bump);
        let n = self.load_i64(counter, 0)?;
        let n1 = self.builder.build_int_add(n, self.i64().const_int(1, false), "n")?;
        self.store_i64(counter, 0, n1)?;
        self.builder.build_unconditional_branch(after)?;
        Ok(())
    }

    pub fn delete(&self, map: GlobalValue<'ctx>, key: PointerValue<'ctx>) -> Result<IntValue<'ctx>> {
        self.call_helper(sys::BPF_FUNC_map_delete_elem, &[self.map_ptr(map), key.into()])
    }

    /// Runs `body` with a pointer to the value at `key` of user map `index`, creating a zeroed
    /// entry first when there is none. If the map is full, `body` does not run (and the entry
    /// it could not take is counted, `update_user`).
    pub fn with_value(
        &mut self,
        f: &mut Func<'ctx>,
        index: usize,
        key: PointerValue<'ctx>,
        value_size: u32,
        body: impl FnOnce(&mut Self, &mut Func<'ctx>, PointerValue<'ctx>) -> Result<()>,
    ) -> Result<()> {
        let func = f.function;
        let (map, _) = self.maps.get(index)?;
        let found = self.lookup(map, key)?;
        let from = self.builder.get_insert_block().ok_or_else(|| super::CodegenError("no block".into()))?;
        let create = self.ctx.append_basic_block(func, "create");
        let use_bb = self.ctx.append_basic_block(func, "use");
        let done = self.ctx.append_basic_block(func, "done");
        let is_null = self.builder.build_is_null(found, "isnull")?;
        self.builder.build_conditional_branch(is_null, create, use_bb)?;

        self.builder.position_at_end(create);
        let zero = self.buffer(f, value_size, "init")?;
        self.update_user(f, index, key, zero, sys::BPF_NOEXIST.into())?;
        let created = self.lookup(map, key)?;
        let create_end = self.builder.get_insert_block().ok_or_else(|| super::CodegenError("no block".into()))?;
        let still_null = self.builder.build_is_null(created, "isnull")?;
        self.builder.build_conditional_branch(still_null, done, use_bb)?;

        self.builder.position_at_end(use_bb);
        let phi = self.builder.build_phi(self.ctx.ptr_type(AddressSpace::default()), "value")?;
        phi.add_incoming(&[(&found, from), (&created, create_end)]);
        body(self, f, phi.as_basic_value().into_pointer_value())?;
        self.builder.build_unconditional_branch(done)?;

        self.builder.position_at_end(done);
        Ok(())
    }
}
