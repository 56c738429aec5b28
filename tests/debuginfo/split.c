/* A program for tests/debuginfo.rs: built with -g, its DWARF then moved to a separate file
 * (objcopy --only-keep-debug, strip --strip-debug, --add-gnu-debuglink). `split_add(argc, 2, &p)`
 * runs once; the variant built with -DOTHER has another layout, so another build ID. */
struct point {
    int x;
    int y;
#ifdef OTHER
    int z;
#endif
};

__attribute__((noinline)) int split_add(int a, long b, struct point *p) {
    return a + (int)b + (p ? p->y : 0);
}

int main(int argc, char **argv) {
    struct point p = {1, 40};
    (void)argv;
    return split_add(argc, 2, &p) == 0;
}
