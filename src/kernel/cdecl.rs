//! C type definitions written in a script (`struct S { int a; char name[16]; };`, unions,
//! enums, typedefs, `__attribute__((packed))` and `aligned(N)`): parsed into `Def`s that
//! `script_types` lays out as C does on x86-64 and adds to the kernel's types as BTF, so that
//! casts, members, `sizeof` and `offsetof` of a script's types work as a kernel type's do.

/// A C type as a member or typedef names it.
#[derive(Debug, Clone, PartialEq)]
pub enum CType {
    /// An integer type by its C spelling (`unsigned int`, `u32`, `_Bool`).
    Int { size: u32, signed: bool, name: String },
    Void,
    Ptr(Box<CType>),
    Array(Box<CType>, u32),
    /// `struct X`, `union X`, `enum X`: a script's type or the kernel's.
    Tagged { tag: Tag, name: String },
    /// An anonymous struct or union defined in place: an index into `Defs::records`.
    Anonymous(usize),
    /// A typedef name: a script's or the kernel's.
    Named(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tag {
    Struct,
    Union,
    Enum,
}

impl Tag {
    pub fn word(self) -> &'static str {
        match self {
            Tag::Struct => "struct",
            Tag::Union => "union",
            Tag::Enum => "enum",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    /// Empty for an anonymous member.
    pub name: String,
    pub ty: CType,
    /// `: N`: a bitfield of N bits.
    pub bits: Option<u32>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// `None` for an anonymous one.
    pub name: Option<String>,
    pub union: bool,
    pub fields: Vec<Field>,
    pub packed: bool,
    /// `aligned(N)`.
    pub align: Option<u32>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct EnumDef {
    pub name: String,
    pub values: Vec<(String, i64)>,
}

/// One definition, in the order written.
#[derive(Debug, Clone, PartialEq)]
pub enum Def {
    /// An index into `Defs::records`.
    Record(usize),
    Enum(EnumDef),
    Typedef { name: String, ty: CType },
}

/// A script's definitions; records (named and anonymous) in the order they close, so that a
/// record's embedded records come before it.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Defs {
    pub defs: Vec<Def>,
    pub records: Vec<Record>,
}

/// A parse error: its message and its byte offset in the text.
#[derive(Debug, Clone, PartialEq)]
pub struct CDeclError {
    pub message: String,
    pub at: usize,
}

/// Parses the definitions in `text` (one or more), adding them to `defs`.
pub fn parse(text: &str, defs: &mut Defs) -> Result<(), CDeclError> {
    let mut p = Parser { toks: tokens(text)?, pos: 0, end: text.len(), defs };
    while p.peek().is_some() {
        p.definition()?;
    }
    Ok(())
}

#[derive(Debug, Clone, PartialEq)]
enum T<'a> {
    Word(&'a str),
    Num(i64),
    Punct(char),
}

fn tokens(text: &str) -> Result<Vec<(T<'_>, usize)>, CDeclError> {
    let mut out = Vec::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i] as char;
        if c.is_ascii_whitespace() {
            i += 1;
        } else if text[i..].starts_with("//") {
            i += text[i..].find('\n').unwrap_or(text.len() - i);
        } else if text[i..].starts_with("/*") {
            i += text[i..].find("*/").map_or(text.len() - i, |e| e + 2);
        } else if c.is_ascii_alphabetic() || c == '_' {
            let end = text[i..].find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).map_or(text.len(), |e| i + e);
            out.push((T::Word(&text[i..end]), i));
            i = end;
        } else if c.is_ascii_digit() {
            let end = text[i..].find(|c: char| !c.is_ascii_alphanumeric()).map_or(text.len(), |e| i + e);
            let word = text[i..end].trim_end_matches(['u', 'U', 'l', 'L']);
            let n = match word.strip_prefix("0x").or_else(|| word.strip_prefix("0X")) {
                Some(hex) => i64::from_str_radix(hex, 16).ok(),
                None if word.len() > 1 && word.starts_with('0') => i64::from_str_radix(&word[1..], 8).ok(),
                None => word.parse().ok(),
            };
            let n = n.ok_or_else(|| CDeclError { message: format!("`{}` is not a number", &text[i..end]), at: i })?;
            out.push((T::Num(n), i));
            i = end;
        } else if "{}[]();:,*=-".contains(c) {
            out.push((T::Punct(c), i));
            i += 1;
        } else {
            return Err(CDeclError { message: format!("unexpected `{c}` in a C definition"), at: i });
        }
    }
    Ok(out)
}

struct Parser<'a, 'd> {
    toks: Vec<(T<'a>, usize)>,
    pos: usize,
    end: usize,
    defs: &'d mut Defs,
}

/// The integer types C spells with keywords, and the fixed-width names scripts use, with
/// (size, signed).
fn fixed_int(name: &str) -> Option<(u32, bool)> {
    Some(match name {
        "int8_t" | "s8" | "__s8" => (1, true),
        "uint8_t" | "u8" | "__u8" => (1, false),
        "int16_t" | "s16" | "__s16" => (2, true),
        "uint16_t" | "u16" | "__u16" => (2, false),
        "int32_t" | "s32" | "__s32" => (4, true),
        "uint32_t" | "u32" | "__u32" => (4, false),
        "int64_t" | "s64" | "__s64" | "ssize_t" => (8, true),
        "uint64_t" | "u64" | "__u64" | "size_t" | "uintptr_t" => (8, false),
        _ => return None,
    })
}

impl<'a> Parser<'a, '_> {
    fn peek(&self) -> Option<&T<'a>> {
        self.toks.get(self.pos).map(|(t, _)| t)
    }

    fn at(&self) -> usize {
        self.toks.get(self.pos).map_or(self.end, |(_, at)| *at)
    }

    fn error<X>(&self, message: impl Into<String>) -> Result<X, CDeclError> {
        Err(CDeclError { message: message.into(), at: self.at() })
    }

    fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(&T::Punct(c)) {
            self.pos += 1;
            return true;
        }
        false
    }

    fn expect(&mut self, c: char) -> Result<(), CDeclError> {
        if self.eat(c) {
            return Ok(());
        }
        self.error(format!("expected `{c}` in a C definition"))
    }

    fn eat_word(&mut self, w: &str) -> bool {
        if self.peek() == Some(&T::Word(w)) {
            self.pos += 1;
            return true;
        }
        false
    }

    fn word(&mut self) -> Result<&'a str, CDeclError> {
        match self.peek() {
            Some(T::Word(w)) => {
                let w = *w;
                self.pos += 1;
                Ok(w)
            }
            _ => self.error("expected a name in a C definition"),
        }
    }

    fn number(&mut self) -> Result<i64, CDeclError> {
        let negative = self.eat('-');
        match self.peek() {
            Some(T::Num(n)) => {
                let n = *n;
                self.pos += 1;
                Ok(if negative { -n } else { n })
            }
            _ => self.error("expected a number in a C definition"),
        }
    }

    /// One top-level definition: `struct|union X { … } [attributes];`, `enum X { … };` or
    /// `typedef TYPE NAME;`.
    fn definition(&mut self) -> Result<(), CDeclError> {
        if self.eat_word("typedef") {
            let base = self.type_spec()?;
            let (name, ty, _) = self.declarator(base)?;
            self.expect(';')?;
            self.defs.defs.push(Def::Typedef { name, ty });
            return Ok(());
        }
        let ty = self.type_spec()?;
        match ty {
            CType::Tagged { tag: Tag::Enum, .. } => {}
            CType::Tagged { .. } if matches!(self.defs.defs.last(), Some(Def::Record(_))) => {}
            _ => return self.error("expected a struct, union, enum or typedef definition"),
        }
        self.expect(';').or_else(|_| if self.peek().is_none() { Ok(()) } else { self.error("expected `;` after a C definition") })
    }

    /// A type: qualifiers, then an integer type's keywords, `void`, `struct|union|enum X`
    /// (with a body: a definition), or a typedef name.
    fn type_spec(&mut self) -> Result<CType, CDeclError> {
        while self.eat_word("const") || self.eat_word("volatile") {}
        let Some(T::Word(first)) = self.peek().cloned() else { return self.error("expected a type in a C definition") };
        let tag = match first {
            "struct" => Some(Tag::Struct),
            "union" => Some(Tag::Union),
            "enum" => Some(Tag::Enum),
            _ => None,
        };
        if let Some(tag) = tag {
            self.pos += 1;
            let name = match self.peek() {
                Some(T::Word(w)) if *w != "__attribute__" => Some(self.word()?.to_string()),
                _ => None,
            };
            if self.peek() == Some(&T::Punct('{')) {
                return self.body(tag, name);
            }
            let Some(name) = name else { return self.error(format!("expected a name or a body after `{}`", tag.word())) };
            return Ok(CType::Tagged { tag, name });
        }
        if first == "void" {
            self.pos += 1;
            return Ok(CType::Void);
        }
        if matches!(first, "_Bool" | "bool") {
            self.pos += 1;
            return Ok(CType::Int { size: 1, signed: false, name: "_Bool".into() });
        }
        let mut words = Vec::new();
        while let Some(T::Word(w)) = self.peek() {
            if !matches!(*w, "unsigned" | "signed" | "char" | "short" | "int" | "long") {
                break;
            }
            words.push(*w);
            self.pos += 1;
        }
        if words.is_empty() {
            self.pos += 1;
            return Ok(match fixed_int(first) {
                Some((size, signed)) => CType::Int { size, signed, name: first.into() },
                None => CType::Named(first.into()),
            });
        }
        let signed = !words.contains(&"unsigned");
        let longs = words.iter().filter(|w| **w == "long").count();
        let size = if words.contains(&"char") {
            1
        } else if words.contains(&"short") {
            2
        } else if longs > 0 {
            8
        } else {
            4
        };
        let base = match size {
            1 => "char",
            2 => "short int",
            4 => "int",
            _ if longs > 1 => "long long int",
            _ => "long int",
        };
        let name = match (signed, size) {
            (true, 1) if words.contains(&"signed") => "signed char".to_string(),
            (true, _) => base.to_string(),
            (false, 1) => "unsigned char".to_string(),
            (false, 4) => "unsigned int".to_string(),
            (false, _) => format!("{} unsigned int", base.trim_end_matches(" int")),
        };
        Ok(CType::Int { size, signed, name })
    }

    /// A `{ … }` body of a struct, union or enum (the definition is recorded), then its
    /// attributes.
    fn body(&mut self, tag: Tag, name: Option<String>) -> Result<CType, CDeclError> {
        self.expect('{')?;
        if tag == Tag::Enum {
            let mut values = Vec::new();
            let mut next = 0i64;
            while !self.eat('}') {
                let v = self.word()?.to_string();
                if self.eat('=') {
                    next = self.number()?;
                }
                values.push((v, next));
                next += 1;
                if !self.eat(',') {
                    self.expect('}')?;
                    break;
                }
            }
            let Some(name) = name else { return self.error("an enum needs a name here") };
            self.defs.defs.push(Def::Enum(EnumDef { name: name.clone(), values }));
            return Ok(CType::Tagged { tag, name });
        }
        let mut fields = Vec::new();
        while !self.eat('}') {
            if self.peek().is_none() {
                return self.error("expected `}` to end the definition");
            }
            let base = self.type_spec()?;
            if self.eat(';') {
                // An anonymous struct or union member.
                fields.push(Field { name: String::new(), ty: base, bits: None });
                continue;
            }
            loop {
                let (name, ty, bits) = self.declarator(base.clone())?;
                fields.push(Field { name, ty, bits });
                if !self.eat(',') {
                    break;
                }
            }
            self.expect(';')?;
        }
        let (packed, align) = self.attributes()?;
        let record = Record { name: name.clone(), union: tag == Tag::Union, fields, packed, align };
        self.defs.records.push(record);
        let index = self.defs.records.len() - 1;
        match name {
            Some(name) => {
                self.defs.defs.push(Def::Record(index));
                Ok(CType::Tagged { tag, name })
            }
            None => Ok(CType::Anonymous(index)),
        }
    }

    /// `__attribute__((packed))`, `__attribute__((aligned(N)))`, several of them.
    fn attributes(&mut self) -> Result<(bool, Option<u32>), CDeclError> {
        let (mut packed, mut align) = (false, None);
        while self.eat_word("__attribute__") || self.eat_word("__attribute") {
            self.expect('(')?;
            self.expect('(')?;
            loop {
                let at = self.at();
                match self.word()? {
                    "packed" | "__packed__" => packed = true,
                    "aligned" | "__aligned__" => {
                        self.expect('(')?;
                        let n = self.number()?;
                        if n <= 0 || (n & (n - 1)) != 0 {
                            return self.error("`aligned` takes a power of two");
                        }
                        align = Some(n as u32);
                        self.expect(')')?;
                    }
                    other => {
                        let message = format!("unsupported attribute `{other}` (rtrace knows `packed` and `aligned(N)`)");
                        return Err(CDeclError { message, at });
                    }
                }
                if !self.eat(',') {
                    break;
                }
            }
            self.expect(')')?;
            self.expect(')')?;
        }
        Ok((packed, align))
    }

    /// `*`s, a name, `[N]`s and `: BITS`; `(*name)(…)`, a function pointer, is a `void *`.
    fn declarator(&mut self, mut ty: CType) -> Result<(String, CType, Option<u32>), CDeclError> {
        while self.eat('*') {
            while self.eat_word("const") || self.eat_word("volatile") {}
            ty = CType::Ptr(Box::new(ty));
        }
        if self.eat('(') {
            self.expect('*')?;
            let name = self.word()?.to_string();
            self.expect(')')?;
            self.expect('(')?;
            let mut depth = 1;
            while depth > 0 {
                match self.peek() {
                    None => return self.error("expected `)`"),
                    Some(T::Punct('(')) => depth += 1,
                    Some(T::Punct(')')) => depth -= 1,
                    _ => {}
                }
                self.pos += 1;
            }
            return Ok((name, CType::Ptr(Box::new(CType::Void)), None));
        }
        let name = self.word()?.to_string();
        let mut dims = Vec::new();
        while self.eat('[') {
            let n = self.number()?;
            if n < 0 {
                return self.error("an array's length cannot be negative");
            }
            dims.push(n as u32);
            self.expect(']')?;
        }
        for n in dims.into_iter().rev() {
            ty = CType::Array(Box::new(ty), n);
        }
        let bits = if self.eat(':') {
            let n = self.number()?;
            if !(0..=64).contains(&n) {
                return self.error("a bitfield's width is 0 to 64 bits");
            }
            Some(n as u32)
        } else {
            None
        };
        Ok((name, ty, bits))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(text: &str) -> Defs {
        let mut defs = Defs::default();
        parse(text, &mut defs).expect("parses");
        defs
    }

    #[test]
    fn structs_with_attributes_enums_and_typedefs() {
        let d = parsed(
            "struct S { unsigned long a; char *name; int v[2][3]; unsigned x : 3, y : 5; struct { int in; }; } __attribute__((packed)); \
             enum colour { RED, GREEN = 5, BLUE }; typedef struct S s_t;",
        );
        assert_eq!(d.records.len(), 2);
        let s = &d.records[1];
        assert!(s.packed && s.name.as_deref() == Some("S"));
        assert_eq!(s.fields[0].ty, CType::Int { size: 8, signed: false, name: "long unsigned int".into() });
        assert_eq!(s.fields[1].ty, CType::Ptr(Box::new(CType::Int { size: 1, signed: true, name: "char".into() })));
        let int = CType::Int { size: 4, signed: true, name: "int".into() };
        assert_eq!(s.fields[2].ty, CType::Array(Box::new(CType::Array(Box::new(int), 3)), 2));
        assert_eq!((s.fields[3].bits, s.fields[4].bits), (Some(3), Some(5)));
        assert_eq!(s.fields[5].ty, CType::Anonymous(0));
        assert_eq!(d.defs[1], Def::Enum(EnumDef { name: "colour".into(), values: vec![("RED".into(), 0), ("GREEN".into(), 5), ("BLUE".into(), 6)] }));
        assert!(matches!(&d.defs[2], Def::Typedef { name, ty: CType::Tagged { tag: Tag::Struct, .. } } if name == "s_t"));
    }

    #[test]
    fn errors_point_at_their_token() {
        let mut defs = Defs::default();
        let e = parse("struct S { int a } ;", &mut defs).unwrap_err();
        assert_eq!((e.message.as_str(), e.at), ("expected `;` in a C definition", 17));
        let e = parse("struct T { int a; } __attribute__((cold));", &mut defs).unwrap_err();
        assert!(e.message.contains("unsupported attribute `cold`"));
    }
}
