// A function given a pointer to a struct whose definition tests/scripts/current/types/
// c_structs.toml repeats in its script (bpftrace's C definitions): packed, bitfields, an
// anonymous union, an array, a pointer to another one, an enum, an aligned member. The values
// are on the stack, so their pages are present when the probe reads them.
enum colour { RED, GREEN = 5, BLUE };

struct inner { char tag; long value; };

struct sample {
	unsigned char kind;
	unsigned int flags : 3, level : 5, mode : 12;
	int id;
	char name[12];
	union { int as_int; unsigned char bytes[4]; };
	struct inner in;
	struct sample *next;
	enum colour colour;
	short pair[2];
} __attribute__((packed));

struct aligned { char c; } __attribute__((aligned(16)));

__attribute__((noinline)) int read_sample(const struct sample *s, const struct aligned *a) {
	__asm__ volatile("" ::: "memory");
	return s->id + a->c;
}

int main(void) {
	struct sample second = { .kind = 2, .id = 22, .name = "second" };
	struct sample first = {
		.kind = 1, .flags = 5, .level = 17, .mode = 3000, .id = -7, .name = "first",
		.as_int = 0x04030201, .in = { .tag = 'x', .value = -123456789012 },
		.next = &second, .colour = BLUE, .pair = { -2, 300 },
	};
	struct aligned a[2] = { { 'a' }, { 'b' } };
	// Every store made before the call (the compiler may see that read_sample reads little).
	__asm__ volatile("" : : "r"(&first), "r"(&second), "r"(a) : "memory");
	return read_sample(&first, a) == 0;
}
