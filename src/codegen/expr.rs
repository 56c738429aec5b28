//! Expressions to LLVM IR: the dispatch over expression kinds, variables, operators and the
//! ternary. Integers are i64; strings are zero-padded buffers of the length sema gave them;
//! tuples live in memory laid out as the plan says. Each family of expressions (calls,
//! strings, maps, memory, casts, builtins, tuples) has its own file.

use super::{CodegenError, Func, Gen, Result};
use crate::builtins::Builtin;
use crate::parser::ast::*;
use crate::plan;
use crate::sema::{Res, Type};
use inkwell::values::{IntValue, PointerValue};
use inkwell::IntPredicate;

/// A generated value.
#[derive(Clone, Copy)]
pub(crate) enum V<'ctx> {
    Int(IntValue<'ctx>),
    /// A buffer and its length.
    Str(PointerValue<'ctx>, u32),
    /// A tuple in memory, laid out as the plan's tuple `id`.
    Tuple(PointerValue<'ctx>, u32),
    Void,
}

impl<'ctx> V<'ctx> {
    pub fn int(self) -> Result<IntValue<'ctx>> {
        match self {
            V::Int(i) => Ok(i),
            _ => Err(CodegenError("expected an integer value".into())),
        }
    }
    pub fn string(self) -> Result<(PointerValue<'ctx>, u32)> {
        match self {
            V::Str(p, n) => Ok((p, n)),
            _ => Err(CodegenError("expected a string value".into())),
        }
    }
}

impl<'ctx, 'm> Gen<'ctx, 'm> {
    pub(super) fn ty(&self, f: &Func<'ctx>, e: &Expr) -> Type {
        self.checked.progs[f.prog].info(e).ty
    }

    pub(super) fn res(&self, f: &Func<'ctx>, e: &Expr) -> &'m Res {
        &self.checked.progs[f.prog].info(e).res
    }

    /// `$t[i]`, `$s[i]` (sema made sure `i` is a constant in range).
    fn constant_element(&mut self, f: &mut Func<'ctx>, base: &Expr, index: &Expr) -> Result<V<'ctx>> {
        let i = index.const_int().ok_or_else(|| CodegenError("a tuple or string index that is not a constant".into()))? as u64;
        match self.expr(f, base)? {
            V::Tuple(p, id) => self.element(p, id, i as usize),
            V::Str(p, _) => {
                let byte = self.builder.build_load(self.ctx.i8_type(), self.offset(p, i)?, "char")?.into_int_value();
                Ok(V::Int(self.builder.build_int_s_extend(byte, self.i64(), "sx")?))
            }
            _ => Err(CodegenError("index of a value that is neither a tuple nor a string".into())),
        }
    }

    /// `&$v`: the address of the variable's slot; `&@m[…]`: of the map's value (0 if none).
    fn address_of(&mut self, f: &mut Func<'ctx>, inner: &Expr) -> Result<IntValue<'ctx>> {
        let p = match (&inner.kind, self.res(f, inner)) {
            (ExprKind::Var(name), res) => {
                let name = match res {
                    Res::LoopVar(own) => own.as_str(),
                    _ => name.as_str(),
                };
                let ty = self.ty(f, inner);
                self.var_slot(f, name, ty)?
            }
            (ExprKind::Map(map), _) => {
                let index = self.map_of(f, inner)?;
                let (global, _) = self.maps.get(index)?;
                let key = self.key(f, index, &map.keys)?;
                self.lookup(global, key)?
            }
            _ => return Err(CodegenError("`&` of an expression sema did not allow".into())),
        };
        Ok(self.builder.build_ptr_to_int(p, self.i64(), "addr")?)
    }

    pub(super) fn truthy(&self, v: IntValue<'ctx>) -> Result<IntValue<'ctx>> {
        Ok(self.builder.build_int_compare(IntPredicate::NE, v, self.i64().const_zero(), "truthy")?)
    }

    pub fn expr(&mut self, f: &mut Func<'ctx>, e: &Expr) -> Result<V<'ctx>> {
        let outer = self.site.replace(e.span);
        let v = self.expr_at(f, e);
        self.site = outer;
        v
    }

    /// `e` at its place (`site`): its value, and a kernel array used as a value read into one.
    fn expr_at(&mut self, f: &mut Func<'ctx>, e: &Expr) -> Result<V<'ctx>> {
        let v = self.expr_kind(f, e)?;
        match self.checked.progs[f.prog].array_reads.get(&e.id) {
            // A kernel array used as a value: its bytes read into one.
            Some(&a) => self.read_array(f, e, a, v),
            None => Ok(v),
        }
    }

    fn expr_kind(&mut self, f: &mut Func<'ctx>, e: &Expr) -> Result<V<'ctx>> {
        let i64 = self.i64();
        Ok(match &e.kind {
            ExprKind::Int(n) => match (self.checked.progs[f.prog].params.get(&e.id), f.params) {
                (Some(&slot), Some(row)) => {
                    V::Int(self.builder.build_load(i64, self.offset(row, 8 * slot as u64)?, "param")?.into_int_value())
                }
                (Some(_), None) => return Err(CodegenError("a parameter literal outside the program's body".into())),
                (None, _) => V::Int(i64.const_int(*n, false)),
            },
            ExprKind::Str(s) => self.string_literal(f, s)?,
            ExprKind::Ident(_) => self.ident(f, e)?,
            ExprKind::Var(name) => self.var(f, e, name)?,
            ExprKind::Map(map) => self.map_read(f, e, map)?,
            ExprKind::Call { args, .. } => self.call(f, e, args)?,
            ExprKind::Field { base, field, arrow } => self.field(f, e, base, &field.name, *arrow)?,
            ExprKind::Index { base, index } => match self.ty(f, base) {
                Type::IntArray(a) => self.int_array_element(f, a, base, index)?,
                Type::Tuple(_) | Type::Str { .. } => self.constant_element(f, base, index)?,
                _ => {
                    let Res::Memory(access) = *self.res(f, e) else {
                        return Err(CodegenError("unresolved index".into()));
                    };
                    if self.core.is_some() {
                        return self.element_read(f, e, access, base, index);
                    }
                    let addr = self.expr(f, base)?.int()?;
                    let i = self.expr(f, index)?.int()?;
                    let scaled = self.builder.build_int_mul(i, i64.const_int(access.scale, false), "scaled")?;
                    let addr = self.builder.build_int_add(addr, scaled, "elem")?;
                    self.memory(f, access, addr)?
                }
            },
            ExprKind::Deref(inner) => {
                let Res::Memory(access) = *self.res(f, e) else {
                    return Err(CodegenError("unresolved dereference".into()));
                };
                let addr = self.expr(f, inner)?.int()?;
                self.memory(f, access, addr)?
            }
            ExprKind::Unary { op, operand } => {
                let v = self.expr(f, operand)?.int()?;
                V::Int(match op {
                    UnOp::Not => {
                        let z = self.builder.build_int_compare(IntPredicate::EQ, v, i64.const_zero(), "not")?;
                        self.builder.build_int_z_extend(z, i64, "b")?
                    }
                    UnOp::Neg => self.builder.build_int_neg(v, "neg")?,
                    UnOp::BitNot => self.builder.build_not(v, "bnot")?,
                })
            }
            ExprKind::Binary { op: op @ (BinOp::And | BinOp::Or), lhs, rhs } => self.logical(f, *op, lhs, rhs)?,
            ExprKind::Binary { op, lhs, rhs } => self.binary(f, e, *op, lhs, rhs)?,
            ExprKind::Ternary { cond, then, els } => self.ternary(f, e, cond, then, els)?,
            ExprKind::Bool(b) => V::Int(i64.const_int(*b as u64, false)),
            ExprKind::IncDec { target, increment, prefix } => {
                // A pointer steps by its pointee's size.
                let one = i64.const_int(self.ty(f, target).stride().unwrap_or(1), false);
                let inc = *increment;
                let (old, new) = self.update_in_place(f, target, |g, old| {
                    Ok(if inc { g.builder.build_int_add(old, one, "inc")? } else { g.builder.build_int_sub(old, one, "dec")? })
                })?;
                V::Int(if *prefix { new } else { old })
            }
            ExprKind::Cast { expr, .. } => self.cast(f, e, expr)?,
            ExprKind::SizeofType(_) | ExprKind::Offsetof { .. } if self.core_ref(f, e).is_some() => {
                V::Int(self.core_constant(f, e)?.ok_or_else(|| CodegenError("a relocated constant without its relocation".into()))?)
            }
            ExprKind::SizeofType(_) | ExprKind::SizeofExpr(_) | ExprKind::Offsetof { .. } => match self.res(f, e) {
                Res::Const(v) => V::Int(i64.const_int(*v, false)),
                _ => return Err(CodegenError("sizeof/offsetof without a size".into())),
            },
            ExprKind::Block { stmts, value } => {
                // The statements' temporaries live until the enclosing statement ends. Those
                // made before the block are set aside meanwhile, so that a statement nested in
                // the block (an `if`'s body) ends only its own, and no later one reuses a
                // buffer the enclosing statement still reads.
                let outer = std::mem::take(&mut f.temps);
                for s in stmts {
                    self.stmt(f, s)?;
                }
                f.temps.splice(0..0, outer);
                return self.expr(f, value);
            }
            ExprKind::Tuple(items) => self.tuple(f, e, items)?,
            ExprKind::Record(items) => self.record(f, e, items)?,
            ExprKind::TupleIndex { base, index } => match self.expr(f, base)? {
                V::Tuple(p, id) => self.element(p, id, *index as usize)?,
                _ => return Err(CodegenError("index of a non-tuple".into())),
            },
            ExprKind::AddrOf(inner) => V::Int(self.address_of(f, inner)?),
            ExprKind::TypeArg(_) => return Err(CodegenError("a type argument reached codegen".into())),
        })
    }

    /// An identifier: a builtin, a constant, or a value sema located (an fentry argument,
    /// `ppid`, a USDT argument in memory).
    pub(super) fn ident(&mut self, f: &mut Func<'ctx>, e: &Expr) -> Result<V<'ctx>> {
        match self.res(f, e) {
            Res::Builtin(Builtin::Kstack | Builtin::Ustack) => self.stack(f, e),
            Res::Builtin(b) => self.builtin(f, *b),
            Res::Const(v) => Ok(V::Int(self.i64().const_int(*v, false))),
            Res::ConstStr(s) => self.string_literal(f, s),
            Res::CtxSlot { index, size, signed } => self.ctx_slot(f, *index, *size, *signed),
            Res::ArgsRecord(slots) => self.args_record(f, e, &slots.clone()),
            Res::TracepointArgs(fields) => self.tracepoint_args(f, e, &fields.clone()),
            Res::TaskField { .. } => self.task_field(f, e, None),
            Res::RegMemory { base, index, access } => self.reg_memory(f, *base, *index, *access),
            _ => Err(CodegenError("unresolved identifier".into())),
        }
    }

    /// A variable (`$x`, a loop's `$kv`), or a positional parameter (`$1`), a constant.
    fn var(&mut self, f: &mut Func<'ctx>, e: &Expr, name: &str) -> Result<V<'ctx>> {
        let name = match self.res(f, e) {
            Res::Const(v) => return Ok(V::Int(self.i64().const_int(*v, false))),
            Res::ConstStr(s) => return self.string_literal(f, s),
            Res::Global(slot) => {
                let slot = *slot;
                return Ok(V::Int(self.global(f, slot)?));
            }
            Res::LoopVar(own) => own,
            _ => name,
        };
        let ty = self.ty(f, e);
        let slot = self.var_slot(f, name, ty)?;
        Ok(match ty {
            Type::Str { len } => V::Str(slot, len),
            // As laid out in storage: the variable's type after every assignment.
            Type::Tuple(_) => match self.checked.progs[f.prog].vars.get(name) {
                Some(Type::Tuple(id)) => V::Tuple(slot, *id),
                _ => return Err(CodegenError(format!("tuple variable {name} has no tuple type"))),
            },
            Type::Inet => V::Str(slot, plan::INET_SIZE as u32),
            Type::IntArray(a) if a.in_memory() => V::Str(slot, a.bytes()),
            Type::Stack(spec) if spec.user => V::Str(slot, spec.size() as u32),
            _ => V::Int(self.builder.build_load(self.i64(), slot, "var")?.into_int_value()),
        })
    }

    /// `base.name` or `base->name`: a record's field, a tracepoint field, an fentry argument
    /// or a member in memory.
    fn field(&mut self, f: &mut Func<'ctx>, e: &Expr, base: &Expr, name: &str, arrow: bool) -> Result<V<'ctx>> {
        if let (false, Some(index)) = (arrow, self.record_field(f, base, name)) {
            return match self.expr(f, base)? {
                V::Tuple(p, id) => self.element(p, id, index),
                _ => Err(CodegenError("field of a non-record".into())),
            };
        }
        match self.res(f, e) {
            Res::Field(field) => self.tp_field(f, e, field),
            Res::CtxSlot { index, size, signed } => self.ctx_slot(f, *index, *size, *signed),
            Res::IterField { offset, size, signed, null_ends } => {
                let (offset, size, signed, null_ends) = (*offset, *size, *signed, *null_ends);
                self.iter_field(f, offset, size, signed, null_ends)
            }
            Res::Memory(access) => {
                let access = *access;
                let addr = self.expr(f, base)?.int()?;
                self.member_read(f, e, access, addr)
            }
            // `config.NAME`.
            Res::Const(_) | Res::ConstStr(_) => self.ident(f, e),
            _ => Err(CodegenError("unresolved field".into())),
        }
    }

    /// `lhs op rhs` for every operator but `&&` and `||`: string equality, pointer
    /// arithmetic, integer arithmetic and comparisons.
    fn binary(&mut self, f: &mut Func<'ctx>, e: &Expr, op: BinOp, lhs: &Expr, rhs: &Expr) -> Result<V<'ctx>> {
        let i64 = self.i64();
        let signed =
            matches!(self.ty(f, lhs), Type::Int { signed: true }) && matches!(self.ty(f, rhs), Type::Int { signed: true });
        if let Some(a) = self.compared_array(f, lhs, rhs) {
            return self.array_compare(f, op, a, lhs, rhs);
        }
        let (l, r) = (self.expr(f, lhs)?, self.expr(f, rhs)?);
        if let (V::Str(a, la), V::Str(b, lb)) = (l, r) {
            let eq = self.str_eq(f, a, la, b, lb)?;
            let res = if op == BinOp::Eq { eq } else { self.builder.build_not(eq, "ne")? };
            return Ok(V::Int(self.builder.build_int_z_extend(res, i64, "b")?));
        }
        if let (V::Tuple(..), V::Tuple(..)) = (l, r) {
            let eq = self.values_eq(f, l, r)?;
            let res = if op == BinOp::Eq { eq } else { self.builder.build_not(eq, "ne")? };
            return Ok(V::Int(self.builder.build_int_z_extend(res, i64, "b")?));
        }
        let (mut l, mut r) = (l.int()?, r.int()?);
        // Pointer arithmetic (sema typed `p + n` as the pointer): n counts elements.
        if let Some(stride) = self.ty(f, e).stride() {
            let n = if self.ty(f, lhs).stride().is_some() { &mut r } else { &mut l };
            *n = self.builder.build_int_mul(*n, i64.const_int(stride, false), "elems")?;
        }
        Ok(V::Int(self.arith(op, l, r, signed)?))
    }

    /// Whether two values of types sema unified are equal (an `i1`): tuples element by
    /// element (their layouts may differ: strings of other lengths), strings up to their NUL.
    fn values_eq(&self, f: &Func<'ctx>, l: V<'ctx>, r: V<'ctx>) -> Result<IntValue<'ctx>> {
        match (l, r) {
            (V::Str(a, la), V::Str(b, lb)) => self.str_eq(f, a, la, b, lb),
            (V::Tuple(a, ia), V::Tuple(b, ib)) => {
                let n = self.checked.plan.tuples[ia as usize].fields.len();
                let mut all = self.ctx.bool_type().const_int(1, false);
                for i in 0..n {
                    let (l, r) = (self.element(a, ia, i)?, self.element(b, ib, i)?);
                    let eq = match (l, r, self.checked.plan.tuples[ia as usize].fields[i].kind) {
                        // A wide integer array: every byte, not a string's up to its NUL.
                        (V::Str(l, _), V::Str(r, _), crate::plan::Scalar::IntArray(arr)) => self.bytes_eq(l, r, arr.bytes())?,
                        _ => self.values_eq(f, l, r)?,
                    };
                    all = self.builder.build_and(all, eq, "all")?;
                }
                Ok(all)
            }
            (l, r) => Ok(self.builder.build_int_compare(IntPredicate::EQ, l.int()?, r.int()?, "eq")?),
        }
    }

    pub(super) fn arith(&self, op: BinOp, l: IntValue<'ctx>, r: IntValue<'ctx>, signed: bool) -> Result<IntValue<'ctx>> {
        let b = &self.builder;
        let cmp = |p: IntPredicate| -> Result<IntValue<'ctx>> {
            let c = b.build_int_compare(p, l, r, "cmp")?;
            Ok(b.build_int_z_extend(c, self.i64(), "b")?)
        };
        let pick = |s: IntPredicate, u: IntPredicate| if signed { s } else { u };
        Ok(match op {
            BinOp::Add => b.build_int_add(l, r, "add")?,
            BinOp::Sub => b.build_int_sub(l, r, "sub")?,
            BinOp::Mul => b.build_int_mul(l, r, "mul")?,
            BinOp::Div | BinOp::Mod => self.divide(op == BinOp::Mod, l, r, signed)?,
            BinOp::BitAnd => b.build_and(l, r, "and")?,
            BinOp::BitOr => b.build_or(l, r, "or")?,
            BinOp::BitXor => b.build_xor(l, r, "xor")?,
            BinOp::Shl => b.build_left_shift(l, r, "shl")?,
            BinOp::Shr => b.build_right_shift(l, r, signed, "shr")?,
            BinOp::Eq => cmp(IntPredicate::EQ)?,
            BinOp::Ne => cmp(IntPredicate::NE)?,
            BinOp::Lt => cmp(pick(IntPredicate::SLT, IntPredicate::ULT))?,
            BinOp::Le => cmp(pick(IntPredicate::SLE, IntPredicate::ULE))?,
            BinOp::Gt => cmp(pick(IntPredicate::SGT, IntPredicate::UGT))?,
            BinOp::Ge => cmp(pick(IntPredicate::SGE, IntPredicate::UGE))?,
            BinOp::And | BinOp::Or => return Err(CodegenError("logical op in arith".into())),
        })
    }

    /// `l / r` or `l % r` as C has them (truncation toward zero; a remainder takes the
    /// dividend's sign), built from unsigned BPF division only: the kernels rtrace targets
    /// (6.1) predate BPF ISA v4's `sdiv`/`smod`, and LLVM refuses signed division without
    /// them. `x / 0` and `x % 0` are 0, as bpftrace 0.17 gives (tests/scripts/begin/division.toml;
    /// 0.26 gives 1 and a warning). The zero divisor is tested here rather than left to the
    /// instruction: LLVM takes it as undefined and may fold it away.
    fn divide(&self, rem: bool, l: IntValue<'ctx>, r: IntValue<'ctx>, signed: bool) -> Result<IntValue<'ctx>> {
        let b = &self.builder;
        let (zero, one) = (self.i64().const_zero(), self.i64().const_int(1, false));
        let by_zero = b.build_int_compare(IntPredicate::EQ, r, zero, "by0")?;
        let magnitude = |v: IntValue<'ctx>| -> Result<(IntValue<'ctx>, IntValue<'ctx>)> {
            if !signed {
                return Ok((v, self.ctx.bool_type().const_zero()));
            }
            let neg = b.build_int_compare(IntPredicate::SLT, v, zero, "neg")?;
            let flipped = b.build_int_neg(v, "abs")?;
            Ok((b.build_select(neg, flipped, v, "mag")?.into_int_value(), neg))
        };
        let (lm, lneg) = magnitude(l)?;
        let (rm, rneg) = magnitude(r)?;
        let divisor = b.build_select(by_zero, one, rm, "d")?.into_int_value();
        let (value, neg) = if rem {
            (b.build_int_unsigned_rem(lm, divisor, "mod")?, lneg)
        } else {
            (b.build_int_unsigned_div(lm, divisor, "div")?, b.build_xor(lneg, rneg, "sgn")?)
        };
        let flipped = b.build_int_neg(value, "neg")?;
        let value = b.build_select(neg, flipped, value, "signed")?.into_int_value();
        Ok(b.build_select(by_zero, zero, value, "q")?.into_int_value())
    }

    /// Short-circuit `&&` and `||`, yielding 0 or 1.
    fn logical(&mut self, f: &mut Func<'ctx>, op: BinOp, lhs: &Expr, rhs: &Expr) -> Result<V<'ctx>> {
        let i64 = self.i64();
        let l = self.expr(f, lhs)?.int()?;
        let l = self.truthy(l)?;
        let from = self.builder.get_insert_block().ok_or_else(|| CodegenError("no block".into()))?;
        let rhs_bb = self.ctx.append_basic_block(f.function, "rhs");
        let end = self.ctx.append_basic_block(f.function, "logic");
        if op == BinOp::And {
            self.builder.build_conditional_branch(l, rhs_bb, end)?;
        } else {
            self.builder.build_conditional_branch(l, end, rhs_bb)?;
        }
        self.builder.position_at_end(rhs_bb);
        let r = self.expr(f, rhs)?.int()?;
        let r = self.truthy(r)?;
        let rhs_end = self.builder.get_insert_block().ok_or_else(|| CodegenError("no block".into()))?;
        self.builder.build_unconditional_branch(end)?;
        self.builder.position_at_end(end);
        let phi = self.builder.build_phi(self.ctx.bool_type(), "l")?;
        let short = self.ctx.bool_type().const_int((op == BinOp::Or) as u64, false);
        phi.add_incoming(&[(&short, from), (&r, rhs_end)]);
        Ok(V::Int(self.builder.build_int_z_extend(phi.as_basic_value().into_int_value(), i64, "b")?))
    }

    fn ternary(&mut self, f: &mut Func<'ctx>, e: &Expr, cond: &Expr, then: &Expr, els: &Expr) -> Result<V<'ctx>> {
        let ty = self.ty(f, e);
        let c = self.expr(f, cond)?.int()?;
        let c = self.truthy(c)?;
        let t_bb = self.ctx.append_basic_block(f.function, "t");
        let f_bb = self.ctx.append_basic_block(f.function, "f");
        let end = self.ctx.append_basic_block(f.function, "tend");
        let out = match ty {
            Type::Str { len } => Some((self.buffer(f, len, "tern")?, len)),
            Type::IntArray(a) if a.in_memory() => Some((self.buffer(f, a.size() as u32, "tern")?, a.bytes())),
            Type::Tuple(id) => Some((self.buffer(f, self.tuple_kind(id).size() as u32, "tern")?, 0)),
            _ => None,
        };
        self.builder.build_conditional_branch(c, t_bb, f_bb)?;
        let mut incoming = Vec::new();
        for (bb, branch) in [(t_bb, then), (f_bb, els)] {
            self.builder.position_at_end(bb);
            let v = self.expr(f, branch)?;
            match (v, out) {
                (V::Str(p, n), Some((buf, len))) => self.copy(buf, p, n.min(len))?,
                (V::Tuple(..), Some((buf, _))) => {
                    let Type::Tuple(id) = ty else { return Err(CodegenError("ternary tuple type".into())) };
                    self.store_value(buf, 0, self.tuple_kind(id), v)?
                }
                (V::Int(i), None) => {
                    incoming.push((i, self.builder.get_insert_block().ok_or_else(|| CodegenError("no block".into()))?))
                }
                _ => return Err(CodegenError("ternary branch type".into())),
            }
            self.builder.build_unconditional_branch(end)?;
        }
        self.builder.position_at_end(end);
        match (out, ty) {
            (Some((buf, _)), Type::Tuple(id)) => return Ok(V::Tuple(buf, id)),
            (Some((buf, len)), _) => return Ok(V::Str(buf, len)),
            _ => {}
        }
        let phi = self.builder.build_phi(self.i64(), "tern")?;
        for (v, bb) in &incoming {
            phi.add_incoming(&[(v, *bb)]);
        }
        Ok(V::Int(phi.as_basic_value().into_int_value()))
    }
}
