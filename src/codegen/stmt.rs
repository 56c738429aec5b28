//! Statements: assignments, `if`, the loops (`while`, `unroll`, `for` over a range; `for`
//! over a map is `for_map.rs`), `break`/`continue`/`return`, and where variables live.

use super::expr::V;
use super::{CodegenError, Func, Gen, Result};
use crate::parser::ast::*;
use crate::plan;
use crate::sema::Type;
use inkwell::values::{IntValue, PointerValue};
use inkwell::IntPredicate;

impl<'ctx, 'm> Gen<'ctx, 'm> {
    pub(super) fn stmts(&mut self, f: &mut Func<'ctx>, stmts: &[Stmt]) -> Result<()> {
        for s in stmts {
            self.stmt(f, s)?;
            self.end_temps(f)?;
        }
        Ok(())
    }

    pub(super) fn stmt(&mut self, f: &mut Func<'ctx>, s: &Stmt) -> Result<()> {
        match &s.kind {
            StmtKind::Expr(e) => {
                self.expr(f, e)?;
            }
            StmtKind::AssignVar { var, value } => self.assign_var(f, var, value)?,
            StmtKind::AssignMap { map, value } => self.assign_map(f, map, value)?,
            StmtKind::If { cond, then, els } => {
                let c = self.expr(f, cond)?.int()?;
                let truth = self.truthy(c)?;
                let then_bb = self.ctx.append_basic_block(f.function, "then");
                let else_bb = self.ctx.append_basic_block(f.function, "else");
                let end_bb = self.ctx.append_basic_block(f.function, "endif");
                self.builder.build_conditional_branch(truth, then_bb, else_bb)?;
                self.builder.position_at_end(then_bb);
                self.stmts(f, then)?;
                self.builder.build_unconditional_branch(end_bb)?;
                self.builder.position_at_end(else_bb);
                if let Some(els) = els {
                    self.stmts(f, els)?;
                }
                self.builder.build_unconditional_branch(end_bb)?;
                self.builder.position_at_end(end_bb);
            }
            StmtKind::CompoundAssign { target, op, value } => {
                let mut v = self.expr(f, value)?.int()?;
                let signed = matches!(self.ty(f, value), Type::Int { signed: true });
                let op = *op;
                // `$p += n` on a pointer: n counts elements.
                if let (BinOp::Add | BinOp::Sub, Some(stride)) = (op, self.ty(f, target).stride()) {
                    v = self.builder.build_int_mul(v, self.i64().const_int(stride, false), "elems")?;
                }
                self.update_in_place(f, target, |g, old| g.arith(op, old, v, signed))?;
            }
            StmtKind::While { cond, body } => self.while_loop(f, cond, body)?,
            StmtKind::Unroll { count, body } => {
                let n = match count.kind {
                    ExprKind::Int(n) => n,
                    _ => return Err(CodegenError("unroll count".into())),
                };
                for _ in 0..n {
                    self.stmts(f, body)?;
                }
            }
            StmtKind::ForRange { var, start, end, body } => self.for_range(f, var, start, end, body)?,
            StmtKind::Break | StmtKind::Continue => {
                let (next, end) = *f.loops.last().ok_or_else(|| CodegenError("break outside a loop".into()))?;
                let target = if matches!(s.kind, StmtKind::Break) { end } else { next };
                self.builder.build_unconditional_branch(target)?;
                self.dead_block(f);
            }
            StmtKind::Return(value) => {
                let code = match value {
                    Some(v) => {
                        let v = self.expr(f, v)?.int()?;
                        self.builder.build_int_truncate(v, self.ctx.i32_type(), "ret")?
                    }
                    None => self.ctx.i32_type().const_zero(),
                };
                self.builder.build_return(Some(&code))?;
                self.dead_block(f);
            }
            StmtKind::Let { var, value, .. } => {
                let ty = self.checked.progs[f.prog].vars.get(&var.name).copied().unwrap_or(Type::Error);
                let slot = self.var_slot(f, &var.name, ty)?;
                match (value, ty) {
                    (Some(v), _) => self.assign_var(f, var, v)?,
                    (None, Type::Str { len }) => self.zero(slot, len)?,
                    (None, _) => {
                        self.builder.build_store(slot, self.i64().const_zero())?;
                    }
                }
            }
            StmtKind::Block(body) => self.stmts(f, body)?,
            StmtKind::ForMap { body, .. } => self.for_map(f, s, body)?,
        }
        Ok(())
    }

    /// `$var = value`, stored as the variable's type (after every assignment) lays it out.
    fn assign_var(&mut self, f: &mut Func<'ctx>, var: &Name, value: &Expr) -> Result<()> {
        let v = self.expr(f, value)?;
        self.store_var(f, &var.name, v)
    }

    /// Stores `v` in variable `name` (`$x = v`, `find()`'s result).
    pub(super) fn store_var(&mut self, f: &mut Func<'ctx>, name: &str, v: V<'ctx>) -> Result<()> {
        let var = Name { name: name.to_string(), span: Default::default() };
        let ty = self.checked.progs[f.prog].vars.get(&var.name).copied().unwrap_or(Type::Error);
        let slot = self.var_slot(f, &var.name, ty)?;
        match (v, ty) {
            (V::Int(i), _) => {
                let i = self.declared_width(f, &var.name, i)?;
                self.builder.build_store(slot, i)?;
            }
            (V::Str(p, n), Type::Str { len }) => {
                self.zero(slot, len)?;
                self.copy(slot, p, n.min(len))?;
            }
            (V::Str(p, n), Type::Inet) => self.copy(slot, p, n.min(plan::INET_SIZE as u32))?,
            (V::Str(p, n), Type::IntArray(a)) => self.copy(slot, p, n.min(a.bytes()))?,
            (V::Str(p, n), Type::Stack(spec)) => self.copy(slot, p, n.min(spec.size() as u32))?,
            (V::Tuple(..), Type::Tuple(id)) => {
                let kind = self.tuple_kind(id);
                self.zero(slot, kind.size() as u32)?;
                self.store_value(slot, 0, kind, v)?;
            }
            _ => return Err(CodegenError(format!("bad assignment to {}", var.name))),
        }
        Ok(())
    }

    fn while_loop(&mut self, f: &mut Func<'ctx>, cond: &Expr, body: &[Stmt]) -> Result<()> {
        let cond_bb = self.ctx.append_basic_block(f.function, "while");
        let body_bb = self.ctx.append_basic_block(f.function, "do");
        let end_bb = self.ctx.append_basic_block(f.function, "wend");
        self.builder.build_unconditional_branch(cond_bb)?;
        self.builder.position_at_end(cond_bb);
        let c = self.expr(f, cond)?.int()?;
        let truth = self.truthy(c)?;
        self.builder.build_conditional_branch(truth, body_bb, end_bb)?;
        self.builder.position_at_end(body_bb);
        f.loops.push((cond_bb, end_bb));
        self.stmts(f, body)?;
        f.loops.pop();
        self.builder.build_unconditional_branch(cond_bb)?;
        self.builder.position_at_end(end_bb);
        Ok(())
    }

    /// `for $i : start..end { body }`.
    fn for_range(&mut self, f: &mut Func<'ctx>, var: &Name, start: &Expr, end: &Expr, body: &[Stmt]) -> Result<()> {
        let slot = self.var_slot(f, &var.name, Type::Int { signed: true })?;
        let first = self.expr(f, start)?.int()?;
        let last = self.expr(f, end)?.int()?;
        self.builder.build_store(slot, first)?;
        let cond_bb = self.ctx.append_basic_block(f.function, "for");
        let body_bb = self.ctx.append_basic_block(f.function, "fbody");
        let next_bb = self.ctx.append_basic_block(f.function, "fnext");
        let end_bb = self.ctx.append_basic_block(f.function, "fend");
        self.builder.build_unconditional_branch(cond_bb)?;
        self.builder.position_at_end(cond_bb);
        let i = self.builder.build_load(self.i64(), slot, "i")?.into_int_value();
        let more = self.builder.build_int_compare(IntPredicate::SLT, i, last, "more")?;
        self.builder.build_conditional_branch(more, body_bb, end_bb)?;
        self.builder.position_at_end(body_bb);
        f.loops.push((next_bb, end_bb));
        self.stmts(f, body)?;
        f.loops.pop();
        self.builder.build_unconditional_branch(next_bb)?;
        self.builder.position_at_end(next_bb);
        let i = self.builder.build_load(self.i64(), slot, "i")?.into_int_value();
        let i = self.builder.build_int_add(i, self.i64().const_int(1, false), "inc")?;
        self.builder.build_store(slot, i)?;
        self.builder.build_unconditional_branch(cond_bb)?;
        self.builder.position_at_end(end_bb);
        Ok(())
    }

    /// Continues code generation in a fresh block after a jump (code there is unreachable).
    fn dead_block(&self, f: &Func<'ctx>) {
        let dead = self.ctx.append_basic_block(f.function, "dead");
        self.builder.position_at_end(dead);
    }

    /// Reads an integer variable or map entry, applies `op`, stores the result; returns
    /// (old, new).
    pub(super) fn update_in_place(
        &mut self,
        f: &mut Func<'ctx>,
        target: &Expr,
        op: impl FnOnce(&Self, IntValue<'ctx>) -> Result<IntValue<'ctx>>,
    ) -> Result<(IntValue<'ctx>, IntValue<'ctx>)> {
        match &target.kind {
            ExprKind::Var(name) => {
                let slot = self.var_slot(f, name, Type::Int { signed: true })?;
                let old = self.builder.build_load(self.i64(), slot, "old")?.into_int_value();
                let new = op(self, old)?;
                let new = self.declared_width(f, name, new)?;
                self.builder.build_store(slot, new)?;
                Ok((old, new))
            }
            ExprKind::Map(map) => {
                let index = self.map_of(f, target)?;
                let key = self.key(f, index, &map.keys)?;
                let old = self.read_int(f, index, key)?;
                let new = op(self, old)?;
                self.store_map_value(f, index, key, V::Int(new))?;
                Ok((old, new))
            }
            _ => Err(CodegenError("update of a non-lvalue".into())),
        }
    }

    /// `v` cut to the width variable `name` was declared with (`let $x: uint8`), if any.
    fn declared_width(&self, f: &Func<'ctx>, name: &str, v: IntValue<'ctx>) -> Result<IntValue<'ctx>> {
        match self.checked.progs[f.prog].widths.get(name) {
            Some(&(bits, signed)) => self.narrow(v, bits, signed),
            None => Ok(v),
        }
    }

    /// The stack slot of a variable, created (zeroed) in the entry block on first use.
    pub(super) fn var_slot(&mut self, f: &mut Func<'ctx>, name: &str, ty: Type) -> Result<PointerValue<'ctx>> {
        if let Some(p) = f.vars.get(name) {
            return Ok(*p);
        }
        let p = match ty {
            // String, address and wide integer array variables live in the per-CPU variables
            // map: `Gen::program` computed their addresses when the program starts.
            Type::Str { .. } | Type::Inet | Type::Tuple(_) => {
                return Err(CodegenError(format!("no storage for variable {name}")));
            }
            Type::IntArray(a) if a.in_memory() => return Err(CodegenError(format!("no storage for variable {name}"))),
            _ => {
                let p = f.allocas.build_alloca(self.i64(), name)?;
                f.allocas.build_store(p, self.i64().const_zero())?;
                p
            }
        };
        f.vars.insert(name.to_string(), p);
        Ok(p)
    }
}
