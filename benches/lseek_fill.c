// Calls lseek(fd, i, SEEK_SET) for i in 0..N: one tracepoint event per distinct offset; at the
// end writes the wall-clock time (seconds) to the file named by argv[2].
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <fcntl.h>
#include <time.h>
int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : 1000000;
    int fd = open("/dev/null", O_RDONLY);
    for (long i = 0; i < n; i++) lseek(fd, i, SEEK_SET);
    struct timespec ts; clock_gettime(CLOCK_REALTIME, &ts);
    if (argc > 2) { FILE *f = fopen(argv[2], "w"); fprintf(f, "%ld.%09ld\n", ts.tv_sec, ts.tv_nsec); fclose(f); }
    return 0;
}
