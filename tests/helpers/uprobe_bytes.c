// A function given a pointer to 16 known bytes, for the typed-pointer cases in
// tests/scripts/uprobe/ (`*(uint32 *)arg0`, `((int8 *)arg0)[1]`, `(uint16 *)arg0 + 3`).
// The bytes are on the stack, so their page is present when the probe reads them.
#include <string.h>

__attribute__((noinline)) int read_bytes(const unsigned char *p) {
    __asm__ volatile("" ::: "memory");
    return p[0];
}

int main(void) {
    unsigned char bytes[16] = {
        0xff, 0xfe, 0xfd, 0xfc, 0x01, 0x02, 0x03, 0x04,
        0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88,
    };
    return read_bytes(bytes) != 0xff;
}
