// For each argument N: N getppid(2) calls at once, then a 500 ms pause. Used by
// `current/probes/interval_print_clear.toml`, whose interval probe prints and clears the
// count between bursts.
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        int n = atoi(argv[i]);
        for (int j = 0; j < n; j++)
            syscall(SYS_getppid);
        usleep(500000);
    }
    return 0;
}
