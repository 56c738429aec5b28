// A stand-in for systemd's notification socket: binds a Unix datagram socket, runs
// `argv[1..]` with NOTIFY_SOCKET naming it, and prints each datagram received as one line
// `notify: TEXT` (newlines in TEXT as `|`) until the command exits; exits with its status.
// Used by `current/cli/systemd_notify.toml`.
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

static void drain(int fd, int timeout_ms)
{
    struct pollfd p = { .fd = fd, .events = POLLIN };
    char buf[512];
    while (poll(&p, 1, timeout_ms) > 0) {
        ssize_t n = recv(fd, buf, sizeof buf - 1, 0);
        if (n <= 0)
            return;
        buf[n] = 0;
        for (char *c = buf; *c; c++)
            if (*c == '\n')
                *c = '|';
        printf("notify: %s\n", buf);
        fflush(stdout);
    }
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return 2;
    char dir[] = "/tmp/rtrace-notify-XXXXXX";
    if (!mkdtemp(dir))
        return 2;
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    snprintf(addr.sun_path, sizeof addr.sun_path, "%s/notify", dir);
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0)
        return 2;
    setenv("NOTIFY_SOCKET", addr.sun_path, 1);
    // Signals meant for the command (the test runner's SIGINT) reach it, not this helper.
    signal(SIGINT, SIG_IGN);
    pid_t pid = fork();
    if (pid == 0) {
        signal(SIGINT, SIG_DFL);
        execvp(argv[1], argv + 1);
        _exit(127);
    }
    int status = 0;
    while (waitpid(pid, &status, WNOHANG) == 0)
        drain(fd, 50);
    drain(fd, 0);
    unlink(addr.sun_path);
    rmdir(dir);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}
