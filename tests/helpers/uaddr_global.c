// A program whose global `answer` has a fixed address (built without PIE, so the symbol
// table's address is the run-time one), for uaddr() in tests/scripts/uprobe/uaddr.toml.
// It calls tick() once, with `answer` still 42.
// cc flags: -no-pie
volatile long answer = 42;

__attribute__((noinline)) void tick(void) {
    answer++;
    __asm__ volatile("" ::: "memory");
}

int main(void) {
    tick();
    return answer != 43;
}
