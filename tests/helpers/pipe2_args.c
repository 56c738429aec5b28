// Calls pipe2() with its `int fildes[2]` filled with -5 and 7 beforehand, for
// tests/scripts/current/types/tracepoint_int_pointer.toml: sys_enter_pipe2's `args.fildes` is
// an `int *`, so the probe reads those two values as 4-byte signed integers.
#define _GNU_SOURCE
#include <unistd.h>

int main(void) {
    int fildes[2] = {-5, 7};
    return pipe2(fildes, 0) != 0;
}
