// Functions for the uprobe cases in tests/scripts/uprobe/: `uprobe_target` calls each with
// known arguments, once, then exits 0.
#include <stdlib.h>
#include <unistd.h>

__attribute__((noinline)) long fn_add(int a, long b) {
    __asm__ volatile("");
    return a + b;
}

__attribute__((noinline)) int fn_len(const char *s) {
    int n = 0;
    while (s[n]) n++;
    return n;
}

__attribute__((noinline)) long fn_neg(long x) {
    __asm__ volatile("");
    return -x;
}

// A callback and a function that calls it, for usym() of a function pointer (arg0 of apply).
__attribute__((noinline)) long cb_double(long x) {
    __asm__ volatile("");
    return 2 * x;
}

__attribute__((noinline)) long apply(long (*f)(long), long x) {
    __asm__ volatile("");
    return f(x);
}

int main(void) {
    long total = fn_add(-3, 10000000000L);      // returns 9999999997
    char msg[] = "hello, uprobe";             // on the stack: its page is there for the probe
    total += fn_len(msg);                     // returns 13
    total += fn_neg(7);                       // returns -7
    char var[] = "RTRACE_UPROBE_TEST";
    getenv(var);                              // a libc function, by its short name
    total += apply(cb_double, 5);             // returns 10
    usleep(200000);                           // alive while the tracer names its addresses
    return total == 10000000013L ? 0 : 1;
}
