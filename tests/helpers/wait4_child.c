// Two children, each waited for with wait4(2): the first with a `struct rusage *` (which the
// case `current/probes/per_thread_wait4.toml` reads back as non-zero), the second without
// one (NULL). Prints nothing.
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

static pid_t child(void)
{
    pid_t pid = fork();
    if (pid == 0)
        _exit(0);
    return pid;
}

int main(void)
{
    struct rusage ru;
    int status;
    if (wait4(child(), &status, 0, &ru) < 0)
        return 1;
    if (wait4(child(), &status, 0, NULL) < 0)
        return 1;
    return 0;
}
