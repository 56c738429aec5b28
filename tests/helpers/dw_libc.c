// cc flags: -O2 -fomit-frame-pointer
/* dw_ustack's case for a frame in a shared library under -c: main -> a -> b, each noinline,
 * built without frame pointers, and b calls libc's getppid. libc is mapped by the dynamic
 * loader after the command's exec, so its unwind tables exist only once the command has run
 * to its entry point. */
#include <unistd.h>

__attribute__((noinline)) int b(int x) { volatile char buf[40]; buf[0] = x; int r = (int)getppid(); return r + buf[0]; }
__attribute__((noinline)) int a(int x) { volatile char buf[24]; buf[0] = x; int r = b(buf[0] * 2); return r - buf[2]; }

int main(int argc, char **argv) {
    (void)argv;
    int r = a(argc);
    usleep(300000); /* the process outlives the stack, which is named from its maps */
    asm volatile("" ::: "memory");
    return r == 12345;
}
