// cc flags: -O2 -fomit-frame-pointer
/* dw_ustack's cases: main -> a -> b -> c, each noinline, built without frame pointers, so
 * only the .eh_frame unwinder finds c's callers. `dw_chain` returns after 0.3 s; `dw_chain loop`
 * calls the chain once a second until killed (for --dwarf-pid). */
#include <string.h>
#include <unistd.h>

__attribute__((noinline)) int c(int x) { asm volatile("" ::: "memory"); return x * 3 + 1; }
__attribute__((noinline)) int b(int x) { volatile char buf[40]; buf[0] = x; int r = c(buf[0] + 1); return r + buf[1]; }
__attribute__((noinline)) int a(int x) { volatile char buf[24]; buf[0] = x; int r = b(buf[0] * 2); return r - buf[2]; }

int main(int argc, char **argv) {
    int r = a(argc);
    usleep(300000); /* the process outlives the run's first stack, which is named from its maps */
    while (argc > 1 && strcmp(argv[1], "loop") == 0) {
        sleep(1);
        r += a(argc);
    }
    asm volatile("" ::: "memory");
    return r == 12345;
}
