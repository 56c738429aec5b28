//! Kernel types and memory: BTF types, members, `*p` and `p[i]`, casts.

use super::*;

#[derive(Debug, Clone, PartialEq)]
pub enum KernelError {
    /// The kernel's BTF cannot be loaded (`reason`); `needed_by` names what needed it.
    NoKernelTypes { reason: String, needed_by: Option<&'static str>, span: Span },
    CastToPointer { found: &'static str, span: Span },
    CastToInteger { found: &'static str, span: Span },
    CastToEnum { found: &'static str, span: Span },
    CastArrayToInteger { array: String, size: u32, to: String, bits: u32, ty_span: Span, span: Span },
    ArrayCastElement { span: Span },
    ArrayCastOperand { found: &'static str, span: Span },
    /// An integer of `size` bytes cast to array type `to` of `wanted` bytes (`len_zero`: of
    /// `elem_bytes`-byte elements, and no length written or none that fits).
    /// (`string`: the operand is a string, whose bytes include its NUL.)
    ArrayCastSize { size: u32, to: String, wanted: u64, elem_bytes: u32, len_zero: bool, string: bool, operand: Span, span: Span },
    /// A cast to an integer array of more than 255 elements.
    ArrayCastLength { len: u64, span: Span },
    MemoryArrayCast { array: ArrayDesc, to: String, bits: u32, operand: Span, span: Span },
    Deref { found: &'static str, span: Span },
    UnknownTagged { tag: &'static str, name: String, span: Span },
    UnknownTypedef { name: String, suggestion: Option<String>, enum_value: bool, span: Span },
    NoEnumValue { name: String, n: u64, span: Span },
    NotIndexable { found: &'static str, span: Span },
    UnreadableType { ty: String, span: Span },
    NoMembers { ty: String, span: Span },
    MemberOfNonStruct { member: String, found: &'static str, span: Span },
    NoMember { record: String, member: String, suggestion: Option<String>, span: Span },
    UnreadableMember { member: String, ty: String, span: Span },
    SizeofArrayLength { span: Span },
    NotStructOrUnion { span: Span },
    MemberNotStructOrUnion { member: String, span: Span },
    NotIntegerType { name: String, typedef_of: String, span: Span },
    /// A struct copied by value (`print(*p)`, a map value) larger than rtrace copies there.
    StructTooLarge { ty: String, size: u32, max: u32, into: &'static str, span: Span },
    /// A map whose values are structs read back (rtrace only prints them).
    StructMapRead { map: String, span: Span },
}

impl KernelError {
    pub(super) fn diagnostic(&self) -> Diagnostic {
        use KernelError::*;
        match self {
            NoKernelTypes { reason, needed_by, span } => error(reason.clone()).at(*span, match needed_by {
                Some(what) => format!("`{what}` needs the kernel's types"),
                None => "needs the kernel's types".into(),
            }),
            StructTooLarge { ty, size, max, into, span } => error(format!("`{ty}` is too large to copy into {into} ({size} bytes)"))
                .at(*span, format!("{size} bytes"))
                .note(format!("rtrace copies a struct of at most {max} bytes into {into}"))
                .help("print its members instead"),
            StructMapRead { map, span } => error(format!("cannot read map {map}: its values are structs"))
                .at(*span, "holds copies of a struct")
                .note("rtrace prints a map of struct values, but does not read them back")
                .help("store the member you need (`@m = $p->member`)"),
            CastToPointer { found, span } => error(format!("cannot cast {found} to a pointer")).at(*span, this_is(found)),
            CastToInteger { found, span } => error(format!("cannot cast {found} to an integer")).at(*span, this_is(found)),
            CastToEnum { found, span } => error(format!("cannot cast {found} to an enum")).at(*span, this_is(found)),
            CastArrayToInteger { array, size, to, bits, ty_span, span } => {
                error(format!("cannot cast `{array}` ({size} bytes) to `{to}` ({} bytes)", bits / 8))
                    .at(*ty_span, format!("{} bytes", bits / 8))
                    .also(*span, format!("{size} bytes"))
                    .note("an array cast keeps the bytes, so both sides must have the same size")
            }
            ArrayCastElement { span } => error("an array cast needs an integer element type")
                .at(*span, "not an integer type")
                .help("write an integer type such as `uint8[4]`"),
            ArrayCastOperand { found, span } => error(format!("cannot cast {found} to an integer array"))
                .at(*span, this_is(found))
                .note("only an integer or a string can be cast to an array of integers"),
            ArrayCastSize { size, to, wanted, elem_bytes, len_zero, string, operand, span } => {
                let bytes = if *size == 1 { "1 byte".to_string() } else { format!("{size} bytes") };
                let what = if *string { "a string" } else { "an integer" };
                let d = error(format!("cannot cast {what} of {bytes} to `{to}`"))
                    .at(*span, if *len_zero { format!("{elem_bytes}-byte elements") } else { format!("{wanted} bytes") })
                    .also(*operand, bytes)
                    .note("an array cast keeps the bytes, so both sides must have the same size");
                match (*string, [1, 2, 4, 8].contains(wanted)) {
                    (true, _) => d.note("a string's bytes include its terminating NUL (`\"abc\"` is 4 bytes)"),
                    (false, true) => d.help(format!("cast the integer to that size first: `({to})(uint{})…`", wanted * 8)),
                    (false, false) => d,
                }
            }
            ArrayCastLength { len, span } => error(format!("an integer array of {len} elements is too long"))
                .at(*span, format!("{len} elements"))
                .note("rtrace's integer arrays hold at most 255 elements"),
            MemoryArrayCast { array, to, bits, operand, span } => {
                let what = match array {
                    ArrayDesc::Bytes(n) => format!("an array of {n} bytes"),
                    ArrayDesc::Of(t) => format!("an array of `{t}`"),
                };
                error(format!("cannot cast {what} to `{to}` ({} bytes)", bits / 8))
                    .at(*span, format!("{} bytes", bits / 8))
                    .also(*operand, what)
                    .note("an array is cast to an integer of the same size, its elements' bytes in order")
            }
            Deref { found, span } => error(format!("cannot dereference {found}")).at(*span, "not a pointer"),
            UnknownTagged { tag, name, span } => error(format!("unknown type `{tag} {name}`")).at(*span, "not in the kernel's BTF"),
            UnknownTypedef { name, suggestion, enum_value, span } => {
                let d = suggest(
                    error(format!("unknown type `{name}`")).at(*span, "neither a builtin type nor a typedef in the kernel's BTF"),
                    suggestion,
                );
                match enum_value {
                    true => d.note(format!(
                        "`{name}` is a kernel enum value, but `({name})` before an operand is a cast, as in bpftrace; drop the parentheses"
                    )),
                    false => d,
                }
            }
            NoEnumValue { name, n, span } => error(format!("`enum {name}` has no value {n}"))
                .at(*span, "not one of its values")
                .help(format!("`rtrace -lv 'enum {name}'` lists them")),
            NotIndexable { found, span } => error(format!("cannot index {found}")).at(*span, "not an array or a typed pointer"),
            UnreadableType { ty, span } => error(format!("rtrace cannot read `{ty}` yet")).at(*span, "unsupported type"),
            NoMembers { ty, span } => error(format!("`{ty}` has no members")).at(*span, "not a struct or union"),
            MemberOfNonStruct { member, found, span } => error(format!("`{member}` needs a struct, but this is {found}"))
                .at(*span, "not a member of anything")
                .help("cast the pointer to its type first, e.g. `((struct sock *)arg0)->sk_state`"),
            NoMember { record, member, suggestion, span } => {
                suggest(error(format!("`{record}` has no member `{member}`")).at(*span, "unknown member"), suggestion)
            }
            UnreadableMember { member, ty, span } => {
                error(format!("rtrace cannot read `{member}` of type `{ty}` yet")).at(*span, "unsupported member type")
            }
            SizeofArrayLength { span } => error("`sizeof` of an array needs its length").at(*span, "no length"),
            NotStructOrUnion { span } => error("expected a struct or union type").at(*span, "not a struct or union"),
            MemberNotStructOrUnion { member, span } => error(format!("`{member}` is not a struct or union")).at(*span, "has no members"),
            NotIntegerType { name, typedef_of, span } => {
                error(format!("`{name}` is not an integer type")).at(*span, format!("a typedef of `{typedef_of}`"))
            }
        }
    }
}
