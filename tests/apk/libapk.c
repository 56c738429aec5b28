/* The library that tests/apk.rs stores in a ZIP archive: functions that need no relocation
 * (no globals, no calls), so that apk_run can call them from the archive's pages mapped as
 * they are, without a dynamic loader. Built with cc -O1 -g -shared -fPIC. */

__attribute__((noinline)) int apk_add(int a, int b)
{
    return a + b;
}

__attribute__((noinline)) long apk_mul(long a, long b)
{
    return a * b;
}
