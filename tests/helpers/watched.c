// A program with a variable and a function at fixed addresses (their own sections, placed by
// the linker), for the watchpoint probes in tests/scripts/watchpoint/: `watched` at 0x10000000,
// `tick()` at 0x10001000. It writes `watched` three times, reads it twice and calls tick()
// twice, and prints nothing.
//   watched          does that at once (started with -c, it is held until rtrace attached)
//   watched thread   does it in a second thread, started after rtrace attached
//   watched wait     waits for SIGUSR1 first (for -p: rtrace attaches, then the signal)
//   watched slow     sleeps 200 ms after each write (unwatch() has time to act in between)
// cc flags: -no-pie -pthread -Wl,--section-start=.watched=0x10000000 -Wl,--section-start=.wtext=0x10001000
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <time.h>

volatile long watched __attribute__((section(".watched"))) = 0;
static int slow;

__attribute__((noinline, section(".wtext"))) void tick(void) {
    __asm__ volatile("" ::: "memory");
}

static void *work(void *unused) {
    (void)unused;
    for (int i = 0; i < 3; i++) {
        watched = i + 1;
        if (slow) {
            struct timespec pause = {0, 200 * 1000 * 1000};
            nanosleep(&pause, 0);
        }
    }
    long sum = watched + watched;
    tick();
    tick();
    return (void *)(long)(sum != 6);
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "wait") == 0) {
        sigset_t set;
        int sig;
        sigemptyset(&set);
        sigaddset(&set, SIGUSR1);
        sigprocmask(SIG_BLOCK, &set, 0);
        sigwait(&set, &sig);
    }
    slow = argc > 1 && strcmp(argv[1], "slow") == 0;
    void *failed = 0;
    if (argc > 1 && strcmp(argv[1], "thread") == 0) {
        pthread_t t;
        pthread_create(&t, 0, work, 0);
        pthread_join(t, &failed);
    } else {
        failed = work(0);
    }
    return failed != 0;
}
