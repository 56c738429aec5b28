// A USDT probe behind a semaphore, for tests/scripts/usdt/*, built by tests/scripts.rs.
// The probe fires only while a tracer has raised the semaphore (the kernel does, for a uprobe
// attached with its ref_ctr_offset). `usdt_semaphore` fires it 3 times if it is raised;
// `usdt_semaphore wait` first waits (up to 10 s) for it to be raised, then 300 ms more: the
// kernel raises it while attaching, and the tracer's attach call must finish before we exit.
#define _SDT_HAS_SEMAPHORES 1
#include <string.h>
#include <sys/sdt.h>
#include <unistd.h>

unsigned short rtrace_test_guarded_semaphore __attribute__((section(".probes")));

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "wait") == 0) {
        for (int i = 0; i < 10000 && !*(volatile unsigned short *)&rtrace_test_guarded_semaphore; i++) {
            usleep(1000);
        }
        usleep(300000);
    }
    for (int i = 0; i < 3; i++) {
        if (rtrace_test_guarded_semaphore) {
            STAP_PROBE1(rtrace_test, guarded, i + 10);
        }
    }
    return 0;
}
