// A program built with DWARF, for the uprobe cases that read it (tests/scripts/current/
// probes/uprobe_*.toml): `args` by name, `-lv` parameter types, source-line probes. It calls
// dw_mix once with known arguments, then exits 0. The line numbers below are part of the
// cases: keep them (or update the cases).
// cc flags: -g
#include <stdio.h>

struct point {
    int x;
    long y;
};

enum color { RED, GREEN = 5 };

__attribute__((noinline)) long dw_mix(int a, unsigned char b, const char *name, struct point *p, enum color c,
                                      long long *out) {
    __asm__ volatile("");
    long r = a + b + p->x + p->y + c + name[0];
    *out = r;
    return r;
}

__attribute__((noinline)) double dw_scale(double f, long k) {
    __asm__ volatile("");
    return f * k;
}

int main(void) {
    struct point pt = {3, -40};
    long long out = 0;
    char name[8] = "dwarf"; // on the stack: in memory when the probe reads it
    dw_mix(-7, 200, name, &pt, GREEN, &out);
    dw_scale(1.5, 4);
    return 0;
}
