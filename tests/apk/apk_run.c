/* Runs code stored in a ZIP archive as Android's loader does for an APK's uncompressed
 * library: maps the entry's pages from the archive itself (PROT_READ|PROT_EXEC), finds
 * apk_add and apk_mul in the mapped ELF's dynamic symbol table, and calls them.
 *
 *   apk_run ARCHIVE DATA_OFFSET SIZE N [SLEEP]
 *
 * calls apk_add(i, 10 * i) and apk_mul(i, 100) for i = 1..N, prints each result, then
 * sleeps SLEEP seconds (so that a tracer can still read its memory map).
 * DATA_OFFSET must be a multiple of the page size. */
#include <elf.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static const unsigned char *base;

/* The file offset within the library of the function `name` (from .dynsym and the PT_LOAD
 * segment holding its address), or exits. */
static unsigned long offset_of(const char *name)
{
    const Elf64_Ehdr *eh = (const Elf64_Ehdr *)base;
    const Elf64_Shdr *sh = (const Elf64_Shdr *)(base + eh->e_shoff);
    const Elf64_Phdr *ph = (const Elf64_Phdr *)(base + eh->e_phoff);
    for (int i = 0; i < eh->e_shnum; i++) {
        if (sh[i].sh_type != SHT_DYNSYM)
            continue;
        const Elf64_Sym *syms = (const Elf64_Sym *)(base + sh[i].sh_offset);
        const char *strs = (const char *)(base + sh[sh[i].sh_link].sh_offset);
        for (unsigned long j = 0; j < sh[i].sh_size / sizeof(Elf64_Sym); j++) {
            if (strcmp(strs + syms[j].st_name, name) != 0)
                continue;
            for (int k = 0; k < eh->e_phnum; k++) {
                unsigned long v = syms[j].st_value;
                if (ph[k].p_type == PT_LOAD && v >= ph[k].p_vaddr && v < ph[k].p_vaddr + ph[k].p_filesz)
                    return v - ph[k].p_vaddr + ph[k].p_offset;
            }
        }
    }
    fprintf(stderr, "apk_run: no %s\n", name);
    exit(1);
}

int main(int argc, char **argv)
{
    if (argc != 5 && argc != 6) {
        fprintf(stderr, "usage: apk_run ARCHIVE DATA_OFFSET SIZE N [SLEEP]\n");
        return 2;
    }
    int fd = open(argv[1], O_RDONLY);
    long offset = atol(argv[2]), size = atol(argv[3]), n = atol(argv[4]);
    base = mmap(NULL, size, PROT_READ | PROT_EXEC, MAP_PRIVATE, fd, offset);
    if (fd < 0 || base == MAP_FAILED) {
        perror("apk_run");
        return 1;
    }
    int (*add)(int, int) = (int (*)(int, int))(base + offset_of("apk_add"));
    long (*mul)(long, long) = (long (*)(long, long))(base + offset_of("apk_mul"));
    for (long i = 1; i <= n; i++)
        printf("%d %ld\n", add(i, 10 * i), mul(i, 100));
    fflush(stdout);
    if (argc == 6)
        sleep(atoi(argv[5]));
    return 0;
}
