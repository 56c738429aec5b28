// Functions for the uprobe cases in tests/scripts/uprobe/: `uprobe_target` calls each with
// known arguments, once, then exits 0.
#include <stdlib.h>

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

int main(void) {
    long total = fn_add(-3, 10000000000L);      // returns 9999999997
    char msg[] = "hello, uprobe";             // on the stack: its page is there for the probe
    total += fn_len(msg);                     // returns 13
    total += fn_neg(7);                       // returns -7
    char var[] = "RTRACE_UPROBE_TEST";
    getenv(var);                              // a libc function, by its short name
    return total == 10000000003L ? 0 : 1;
}
