// A program built with DWARF whose functions take structs, for the uprobe cases that read
// them through `args` (tests/scripts/current/uprobe/dwarf_struct_*.toml): a pointer to a
// struct with a char array, a string pointer, an embedded struct, a pointer to the next item,
// bitfields and an array of longs; a typedef of such a pointer, a pointer to a pointer, a
// union, and a struct passed by value. It calls each function once with the values below,
// then exits 0. The strings live on main's stack, which the probe can read (a literal in
// .rodata may be on a page the process never touched).
// cc flags: -g
#include <string.h>

struct inner {
    unsigned short port;
    char tag[4];
};

struct item {
    int id;
    char name[16];
    const char *label;
    struct inner in;
    struct item *next;
    unsigned int flags : 3;
    unsigned int level : 5;
    long vals[3];
};

typedef struct item item_t;

union word {
    unsigned int u;
    unsigned char bytes[4];
};

struct pair {
    int a;
    int b;
};

// The empty asm with a memory clobber keeps every field alive: the compiler may not drop a
// store it sees no function read.
#define KEEP(p) __asm__ volatile("" : : "r"(p) : "memory")

__attribute__((noinline)) int ds_item(int n, struct item *it) {
    KEEP(it);
    return n + it->id;
}

__attribute__((noinline)) int ds_typedef(item_t *t, struct item **pp, union word *w) {
    KEEP(t);
    KEEP(pp);
    KEEP(w);
    return t->id + (*pp)->id + (int)w->u;
}

__attribute__((noinline)) int ds_pair(struct pair pr, int k) {
    KEEP(&pr);
    return pr.a + pr.b + k;
}

int main(void) {
    char label1[4] = "L1", label2[4] = "L2";
    struct item second = {.id = 2, .name = "second", .label = label2, .in = {.port = 8080, .tag = "b"}};
    struct item first = {.id = 1, .name = "first", .label = label1, .in = {.port = 443, .tag = "abc"},
                         .next = &second, .flags = 5, .level = 17, .vals = {10, -20, 30}};
    struct item *p = &second;
    union word w = {.u = 0x01020304};
    struct pair pr = {4, 5};
    int r = ds_item(7, &first);
    r += ds_typedef(&first, &p, &w);
    r += ds_pair(pr, 6);
    return r == 0;
}
