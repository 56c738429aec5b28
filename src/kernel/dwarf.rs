//! A user binary's DWARF debug information, read with `gimli` over the `object` crate's ELF
//! sections: a function's parameters (names, types as bpftrace prints them, and what a uprobe
//! can read of each) for uprobes' `args` and `-lv`, and the address of a source line for
//! `uprobe:BINARY@FILE:LINE[:COL]`.

use gimli::{AttributeValue, EndianRcSlice, Reader, RunTimeEndian, UnitOffset};
use object::{Object, ObjectSection};
use std::path::Path;
use std::rc::Rc;

pub(super) type R = EndianRcSlice<RunTimeEndian>;
pub(super) type Unit = gimli::Unit<R>;

/// A binary's DWARF sections.
pub struct Debug {
    pub(super) dwarf: gimli::Dwarf<R>,
}

/// A type in a binary's DWARF: the offset of its unit in `.debug_info`, and its own offset in
/// that unit (`kernel::dwarf_types` writes it, and what it reaches, as BTF).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TypeRef {
    pub(super) unit: gimli::DebugInfoOffset<usize>,
    pub(super) offset: UnitOffset,
}

/// One parameter of a function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Param {
    /// Empty for an unnamed parameter.
    pub name: String,
    /// The type as bpftrace 0.26 names it (`const char*`, `struct point*`, `int`).
    pub type_name: String,
    pub shape: Shape,
    /// The parameter's DWARF type; `None` when it has none (`void`) or it lies in another unit.
    pub ty: Option<TypeRef>,
}

/// What a uprobe can read of a parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// An integer (also `enum`, `_Bool`): its size and sign.
    Int { size: u32, signed: bool },
    /// A pointer: what it points to when that is an integer (size, sign); `None` otherwise
    /// (a struct, a pointer, `void`: sema reads those through `dwarf_types`).
    Ptr { to: Option<(u32, bool)> },
    /// A floating-point value: passed in another register file.
    Float,
    /// A struct or union passed by value, or another type.
    Other,
}

impl Debug {
    /// The DWARF of `path`: `Ok(None)` when it has no `.debug_info`.
    pub fn load(path: &Path) -> Result<Option<Debug>, String> {
        let bytes = crate::kernel::zip::read_binary(path)?;
        let separate;
        let mut file = object::File::parse(&*bytes).map_err(|e| e.to_string())?;
        // A stripped binary's DWARF may be in a separate file (build ID, `.gnu_debuglink`).
        if file.section_by_name(".debug_info").is_none() {
            let Some(bytes) = super::debuginfo::find(path, &file) else { return Ok(None) };
            separate = bytes;
            file = object::File::parse(&*separate).map_err(|e| e.to_string())?;
        }
        let endian = if file.is_little_endian() { RunTimeEndian::Little } else { RunTimeEndian::Big };
        let load = |id: gimli::SectionId| -> Result<R, gimli::Error> {
            let data = file.section_by_name(id.name()).and_then(|s| s.data().ok()).unwrap_or(&[]);
            Ok(EndianRcSlice::new(Rc::from(data), endian))
        };
        let dwarf = gimli::Dwarf::load(load).map_err(|e| e.to_string())?;
        Ok(Some(Debug { dwarf }))
    }

    /// The parameters of the function named `function` (the first definition or declaration
    /// with that name and parameters), `None` when no unit has it.
    pub fn params(&self, function: &str) -> Option<Vec<Param>> {
        let mut units = self.dwarf.units();
        while let Ok(Some(header)) = units.next() {
            let Ok(unit) = self.dwarf.unit(header) else { continue };
            if let Some(found) = self.params_in(&unit, function) {
                return Some(found);
            }
        }
        None
    }

    fn params_in(&self, unit: &Unit, function: &str) -> Option<Vec<Param>> {
        let mut entries = unit.entries();
        let mut inside: Option<isize> = None;
        let mut depth = 0;
        let mut params = Vec::new();
        while let Ok(Some((delta, entry))) = entries.next_dfs() {
            depth += delta;
            if let Some(d) = inside {
                if depth <= d {
                    return Some(params);
                }
                if depth == d + 1 && entry.tag() == gimli::DW_TAG_formal_parameter {
                    params.push(self.param(unit, entry));
                }
                continue;
            }
            if entry.tag() == gimli::DW_TAG_subprogram && self.name(unit, entry).as_deref() == Some(function) {
                inside = Some(depth);
            }
        }
        inside.map(|_| params)
    }

    fn param(&self, unit: &Unit, entry: &gimli::DebuggingInformationEntry<R>) -> Param {
        let ty = type_of(entry);
        Param {
            name: self.name(unit, entry).unwrap_or_default(),
            type_name: self.type_name(unit, ty, 0),
            shape: self.shape(unit, ty, 0),
            ty: ty.zip(unit.header.offset().as_debug_info_offset()).map(|(offset, unit)| TypeRef { unit, offset }),
        }
    }

    /// The unit that begins at `offset` in `.debug_info`.
    pub(super) fn unit_at(&self, offset: gimli::DebugInfoOffset<usize>) -> Option<Unit> {
        let header = self.dwarf.debug_info.header_from_offset(offset).ok()?;
        self.dwarf.unit(header).ok()
    }

    pub(super) fn name(&self, unit: &Unit, entry: &gimli::DebuggingInformationEntry<R>) -> Option<String> {
        let attr = entry.attr_value(gimli::DW_AT_name).ok()??;
        let s = self.dwarf.attr_string(unit, attr).ok()?;
        Some(s.to_string_lossy().ok()?.into_owned())
    }

    /// A type's name as bpftrace's DWARF reader writes it: base types and typedefs by name,
    /// `T*`, `struct S`, `const T`, `T* const`, and `<unknown type>` for the rest.
    fn type_name(&self, unit: &Unit, ty: Option<UnitOffset>, depth: u32) -> String {
        let Some(entry) = ty.and_then(|o| unit.entry(o).ok()).filter(|_| depth < 16) else {
            return if depth == 0 { "void".into() } else { "<unknown type>".into() };
        };
        let inner = type_of(&entry);
        let named = |prefix: &str| format!("{prefix}{}", self.name(unit, &entry).unwrap_or_else(|| "<anonymous>".into()));
        match entry.tag() {
            gimli::DW_TAG_base_type | gimli::DW_TAG_typedef => self.name(unit, &entry).unwrap_or_default(),
            gimli::DW_TAG_pointer_type if inner.is_none() => "void*".into(),
            gimli::DW_TAG_pointer_type => format!("{}*", self.type_name(unit, inner, depth + 1)),
            gimli::DW_TAG_structure_type => named("struct "),
            gimli::DW_TAG_union_type => named("union "),
            gimli::DW_TAG_enumeration_type => named("enum "),
            gimli::DW_TAG_const_type => {
                let pointer = inner.and_then(|o| unit.entry(o).ok()).is_some_and(|e| e.tag() == gimli::DW_TAG_pointer_type);
                match pointer {
                    true => format!("{} const", self.type_name(unit, inner, depth + 1)),
                    false => format!("const {}", self.type_name(unit, inner, depth + 1)),
                }
            }
            _ => "<unknown type>".into(),
        }
    }

    /// What a uprobe reads of a value of type `ty` (typedefs and qualifiers looked through).
    fn shape(&self, unit: &Unit, ty: Option<UnitOffset>, depth: u32) -> Shape {
        let Some(entry) = ty.and_then(|o| unit.entry(o).ok()).filter(|_| depth < 16) else { return Shape::Other };
        let size = || entry.attr_value(gimli::DW_AT_byte_size).ok().flatten().and_then(|v| v.udata_value()).unwrap_or(0) as u32;
        match entry.tag() {
            gimli::DW_TAG_typedef | gimli::DW_TAG_const_type | gimli::DW_TAG_volatile_type => {
                self.shape(unit, type_of(&entry), depth + 1)
            }
            gimli::DW_TAG_base_type => {
                let encoding = match entry.attr_value(gimli::DW_AT_encoding).ok().flatten() {
                    Some(AttributeValue::Encoding(e)) => e,
                    _ => return Shape::Other,
                };
                match encoding {
                    gimli::DW_ATE_float | gimli::DW_ATE_complex_float => Shape::Float,
                    gimli::DW_ATE_signed | gimli::DW_ATE_signed_char => Shape::Int { size: size(), signed: true },
                    _ => Shape::Int { size: size(), signed: false },
                }
            }
            gimli::DW_TAG_enumeration_type => match self.shape(unit, type_of(&entry), depth + 1) {
                Shape::Int { signed, .. } => Shape::Int { size: size(), signed },
                _ => Shape::Int { size: size(), signed: false },
            },
            gimli::DW_TAG_pointer_type => {
                let to = match self.shape(unit, type_of(&entry), depth + 1) {
                    Shape::Int { size, signed } => Some((size, signed)),
                    _ => None,
                };
                Shape::Ptr { to }
            }
            _ => Shape::Other,
        }
    }

    /// The definition of `struct NAME` or `union NAME` (`tag`) in the first unit that has one.
    pub fn find_record(&self, tag: &str, name: &str) -> Option<TypeRef> {
        let want = if tag == "union" { gimli::DW_TAG_union_type } else { gimli::DW_TAG_structure_type };
        let mut units = self.dwarf.units();
        while let Ok(Some(header)) = units.next() {
            let Ok(unit) = self.dwarf.unit(header) else { continue };
            let mut entries = unit.entries();
            while let Ok(Some((_, entry))) = entries.next_dfs() {
                let declaration = matches!(entry.attr_value(gimli::DW_AT_declaration), Ok(Some(AttributeValue::Flag(true))));
                if entry.tag() == want && !declaration && self.name(&unit, entry).as_deref() == Some(name) {
                    let unit_offset = unit.header.offset().as_debug_info_offset()?;
                    return Some(TypeRef { unit: unit_offset, offset: entry.offset() });
                }
            }
        }
        None
    }

    /// The address of the first statement of line `line` (and column `col`, when not 0) of
    /// the source file whose path ends with `file`; statements of files it includes are not
    /// considered.
    pub fn line_address(&self, file: &str, line: u64, col: u64) -> Result<u64, String> {
        let mut units = self.dwarf.units();
        let mut matched: Option<(Unit, String)> = None;
        while let Ok(Some(header)) = units.next() {
            let Ok(unit) = self.dwarf.unit(header) else { continue };
            let mut first_here = None;
            for path in self.unit_files(&unit).into_iter().filter(|p| path_ends_with(p, file)) {
                let first = matched.as_ref().map(|(_, p)| p).or(first_here.as_ref());
                match first {
                    None => first_here = Some(path),
                    Some(first) if *first != path => {
                        return Err(format!("Ambiguous source path, matches multiple files: {first}, {path}"));
                    }
                    Some(_) => {}
                }
            }
            if let Some(path) = first_here {
                matched = Some((unit, path));
            }
        }
        let Some((unit, source)) = matched else { return Err(format!("No compilation unit matches {file}")) };
        let program = unit.line_program.clone().ok_or("Failed to get compilation unit source lines")?;
        let mut rows = program.rows();
        while let Ok(Some((header, row))) = rows.next_row() {
            let here = row.line().map(|l| l.get()) == Some(line);
            let column = match row.column() {
                gimli::ColumnType::LeftEdge => 0,
                gimli::ColumnType::Column(c) => c.get(),
            };
            if !here || (col != 0 && column != col) || row.end_sequence() {
                continue;
            }
            let in_source = row.file(header).and_then(|f| self.file_path(&unit, header, f)).is_some_and(|p| path_ends_with(&p, &source));
            if in_source {
                return Ok(row.address());
            }
        }
        let col = if col > 0 { format!(":{col}") } else { String::new() };
        Err(format!("Unable to map '{file}:{line}{col}' to address"))
    }

    /// The paths of a unit's line-table files, as written (relative or absolute).
    fn unit_files(&self, unit: &Unit) -> Vec<String> {
        let Some(program) = unit.line_program.as_ref() else { return vec![] };
        let header = program.header();
        header.file_names().iter().filter_map(|f| self.file_path(unit, header, f)).collect()
    }

    fn file_path(&self, unit: &Unit, header: &gimli::LineProgramHeader<R>, f: &gimli::FileEntry<R>) -> Option<String> {
        let name = self.dwarf.attr_string(unit, f.path_name()).ok()?.to_string_lossy().ok()?.into_owned();
        if name.starts_with('/') {
            return Some(name);
        }
        let dir = f.directory(header).and_then(|d| self.dwarf.attr_string(unit, d).ok());
        match dir.and_then(|d| d.to_string_lossy().ok().map(|d| d.into_owned())) {
            Some(d) if !d.is_empty() => Some(format!("{}/{name}", d.trim_end_matches('/'))),
            _ => Some(name),
        }
    }
}

/// The `DW_AT_type` of an entry, within its unit.
pub(super) fn type_of(entry: &gimli::DebuggingInformationEntry<R>) -> Option<UnitOffset> {
    match entry.attr_value(gimli::DW_AT_type).ok()?? {
        AttributeValue::UnitRef(o) => Some(o),
        _ => None,
    }
}

/// Whether `path` ends with `suffix` as whole path components (`src/a.c` ends with `a.c`,
/// not with `.c`).
fn path_ends_with(path: &str, suffix: &str) -> bool {
    let (p, s) = (Path::new(path), Path::new(suffix.trim_start_matches("./")));
    p.ends_with(s)
}

#[cfg(test)]
mod tests {
    use super::path_ends_with;

    #[test]
    fn path_suffixes_are_whole_components() {
        assert!(path_ends_with("/src/app/main.c", "main.c"));
        assert!(path_ends_with("/src/app/main.c", "app/main.c"));
        assert!(path_ends_with("/src/app/main.c", "/src/app/main.c"));
        assert!(!path_ends_with("/src/app/xmain.c", "main.c"));
    }
}
