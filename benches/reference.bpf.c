/* The per-event benchmark's reference: hand-written BPF programs for
 * tracepoint:syscalls:sys_enter_getppid, loaded and attached by benches/reference.c with libbpf.
 * Built by benches/per_event.py with clang-19 -target bpf.
 *
 *   count: a per-CPU array increment (the minimal reference)
 *   comm:  what `@[comm] = count()` must do at least: the task's comm as the key of a per-CPU hash
 *   hist:  what `@h = hist(pid)` must do at least: a log2 bucket of the pid, a per-CPU array increment
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, __u64);
} count_map SEC(".maps");

struct comm_key { char comm[16]; };

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_HASH);
    __uint(max_entries, 4096);
    __type(key, struct comm_key);
    __type(value, __u64);
} comm_map SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 66);
    __type(key, __u32);
    __type(value, __u64);
} hist_map SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_getppid")
int count(void *ctx)
{
    __u32 key = 0;
    __u64 *v = bpf_map_lookup_elem(&count_map, &key);
    if (v)
        *v += 1;
    return 0;
}

SEC("tracepoint/syscalls/sys_enter_getppid")
int comm(void *ctx)
{
    struct comm_key key = {};
    bpf_get_current_comm(&key.comm, sizeof(key.comm));
    __u64 *v = bpf_map_lookup_elem(&comm_map, &key);
    if (v) {
        *v += 1;
    } else {
        __u64 one = 1;
        bpf_map_update_elem(&comm_map, &key, &one, BPF_NOEXIST);
    }
    return 0;
}

/* bpftrace's hist() buckets: 0 for negative values, 1 for 0, then 2 + floor(log2(n)). */
static __always_inline __u32 log2_bucket(__s64 n)
{
    if (n < 0)
        return 0;
    if (n == 0)
        return 1;
    __u64 v = n;
    __u32 r = 0;
    if (v >> 32) { v >>= 32; r += 32; }
    if (v >> 16) { v >>= 16; r += 16; }
    if (v >> 8) { v >>= 8; r += 8; }
    if (v >> 4) { v >>= 4; r += 4; }
    if (v >> 2) { v >>= 2; r += 2; }
    if (v >> 1) { r += 1; }
    return r + 2;
}

SEC("tracepoint/syscalls/sys_enter_getppid")
int hist(void *ctx)
{
    __u32 key = log2_bucket(bpf_get_current_pid_tgid() >> 32);
    __u64 *v = bpf_map_lookup_elem(&hist_map, &key);
    if (v)
        *v += 1;
    return 0;
}

char LICENSE[] SEC("license") = "GPL";
