// USDT probes for tests/scripts/usdt/*, built by tests/scripts.rs into the target directory.
// `usdt_probes [N]` fires each probe N times (default 1), then exits. Compiled with -O1, the
// probes' arguments take each form an x86-64 USDT argument has (see the comments).
#include <stdint.h>
#include <stdlib.h>
#include <sys/sdt.h>

static int64_t values[4] = {-1, 2, -3, 4};

// Registers (`-4@%edi`, `-8@%rsi`, `8@%rdx`) and a constant (`-4@$42`).
__attribute__((noinline)) static void regs(int i, int64_t big, const char *name) {
    STAP_PROBE4(rtrace_test, args, i, big, name, 42);
}

// Memory through a base register (`-8@8(%rdi)`) and indexed (`-8@(%rdi,%rsi,8)`).
__attribute__((noinline)) static void memory(volatile int64_t *p, long i) {
    STAP_PROBE2(rtrace_test, memory, p[1], p[i]);
}

// A global through %rip and a symbol (`-8@8+values(%rip)`), which rtrace cannot read.
__attribute__((noinline)) static void global(void) {
    STAP_PROBE1(rtrace_test, global, values[1]);
}

// The stack (`-4@-20(%rbp)`, `-2@-22(%rbp)`): unoptimised code keeps locals there.
__attribute__((noinline, optimize("O0"))) static void stack(int a, short b) {
    STAP_PROBE2(rtrace_test, stack, a, b);
}

int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 1;
    for (int i = 0; i < n; i++) {
        char name[8] = "hello"; // on the stack, so the page is there when the probe reads it
        regs(i, -0x123456789LL * (i + 1), name);
        memory(values, i % 4);
        stack(-100000 - i, (short)-300);
        global();
        STAP_PROBE(rtrace_test, noargs);
        STAP_PROBE(other_provider, noargs);
    }
    return 0;
}
