/* The soak's load (benches/soak.sh): calls getppid() as fast as it can until SIGTERM, then
 * writes how many calls it made to the file named by its argument. */
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

static volatile sig_atomic_t stop;

static void on_term(int sig) { (void)sig; stop = 1; }

int main(int argc, char **argv) {
    unsigned long long calls = 0;
    if (argc != 2) return 2;
    signal(SIGTERM, on_term);
    while (!stop) {
        getppid();
        calls++;
    }
    FILE *f = fopen(argv[1], "w");
    if (!f) return 1;
    fprintf(f, "%llu\n", calls);
    return fclose(f) != 0;
}
