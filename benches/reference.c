/* Loads benches/reference.bpf.o with libbpf and attaches one of its programs (argv[2]: count,
 * comm or hist) to tracepoint:syscalls:sys_enter_getppid; prints "attached" when it is, and at
 * SIGINT or SIGTERM prints the number of events its map counted (summed over CPUs), then exits.
 * Usage: reference OBJECT PROGRAM. Built by benches/per_event.py with `cc ... -lbpf`. */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int libbpf_quiet(enum libbpf_print_level level, const char *fmt, va_list args)
{
    return level == LIBBPF_WARN ? vfprintf(stderr, fmt, args) : 0;
}

/* The sum over every CPU of every value of a per-CPU map with u64 values. */
static unsigned long long map_total(struct bpf_map *map)
{
    int fd = bpf_map__fd(map), ncpus = libbpf_num_possible_cpus();
    unsigned int key_size = bpf_map__key_size(map);
    unsigned long long total = 0, *values = calloc(ncpus, sizeof(*values));
    char *key = calloc(1, key_size), *next = calloc(1, key_size);
    void *prev = NULL;
    while (bpf_map_get_next_key(fd, prev, next) == 0) {
        if (bpf_map_lookup_elem(fd, next, values) == 0)
            for (int i = 0; i < ncpus; i++)
                total += values[i];
        memcpy(key, next, key_size);
        prev = key;
    }
    free(values);
    free(key);
    free(next);
    return total;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s OBJECT PROGRAM\n", argv[0]);
        return 2;
    }
    libbpf_set_print(libbpf_quiet);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigprocmask(SIG_BLOCK, &set, NULL);

    struct bpf_object *obj = bpf_object__open_file(argv[1], NULL);
    if (!obj) {
        perror("bpf_object__open_file");
        return 1;
    }
    struct bpf_program *prog, *chosen = NULL;
    bpf_object__for_each_program(prog, obj) {
        int mine = strcmp(bpf_program__name(prog), argv[2]) == 0;
        bpf_program__set_autoload(prog, mine);
        if (mine)
            chosen = prog;
    }
    if (!chosen) {
        fprintf(stderr, "no program %s in %s\n", argv[2], argv[1]);
        return 1;
    }
    if (bpf_object__load(obj)) {
        perror("bpf_object__load");
        return 1;
    }
    struct bpf_link *link = bpf_program__attach(chosen);
    if (!link) {
        perror("bpf_program__attach");
        return 1;
    }
    printf("attached\n");
    fflush(stdout);

    int sig;
    sigwait(&set, &sig);
    char map_name[32];
    snprintf(map_name, sizeof(map_name), "%s_map", argv[2]);
    struct bpf_map *map = bpf_object__find_map_by_name(obj, map_name);
    printf("events: %llu\n", map ? map_total(map) : 0ULL);
    bpf_link__destroy(link);
    bpf_object__close(obj);
    return 0;
}
