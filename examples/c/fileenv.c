/* fileenv: a C program using stdio and POSIX calls through wasi-libc: prints its
 * arguments and the variables GREETING and MISSING, then, in the directory given as
 * argument 1 (a preopen), writes notes.txt with fprintf, reads it back with fgets,
 * appends to it, stats it, lists the directory sorted, renames and removes files.
 * Exit status 3 if argument 1 is missing, 1 on an unexpected failure.
 * Built with: clang-19 --target=wasm32-wasi -O2 fileenv.c -o fileenv.wasm */

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int fail(const char *what, const char *path) {
    printf("error: %s %s: %s\n", what, path, strerror(errno));
    return 1;
}

static int cmp(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int list(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return fail("opendir", dir);
    char *names[64];
    int count = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL && count < 64) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        names[count++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(names, count, sizeof names[0], cmp);
    printf("%s: %d entries\n", dir, count);
    for (int i = 0; i < count; i++) {
        char path[512];
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        if (stat(path, &st) != 0) return fail("stat", path);
        printf("  %s %s %lld\n", names[i], S_ISDIR(st.st_mode) ? "dir" : "file", S_ISDIR(st.st_mode) ? 0LL : (long long)st.st_size);
        free(names[i]);
    }
    return 0;
}

int main(int argc, char **argv) {
    printf("argc=%d\n", argc);
    for (int i = 1; i < argc; i++) printf("argv[%d]=\"%s\"\n", i, argv[i]);
    const char *greeting = getenv("GREETING");
    printf("GREETING=%s\n", greeting ? greeting : "(unset)");
    printf("MISSING=%s\n", getenv("MISSING") ? getenv("MISSING") : "(unset)");
    if (argc < 2) {
        fprintf(stderr, "usage: fileenv DIR [words...]\n");
        return 3;
    }
    const char *dir = argv[1];
    char path[512], path2[512], line[256];

    snprintf(path, sizeof path, "%s/notes.txt", dir);
    FILE *f = fopen(path, "w");
    if (!f) return fail("fopen w", path);
    fprintf(f, "greeting: %s\n", greeting ? greeting : "none");
    for (int i = 2; i < argc; i++) fprintf(f, "word %d: %s\n", i - 1, argv[i]);
    fclose(f);

    f = fopen(path, "a");
    if (!f) return fail("fopen a", path);
    fputs("appended line\n", f);
    fclose(f);

    f = fopen(path, "r");
    if (!f) return fail("fopen r", path);
    int n = 0;
    while (fgets(line, sizeof line, f)) printf("read %d: %s", ++n, line);
    fclose(f);

    struct stat st;
    if (stat(path, &st) != 0) return fail("stat", path);
    printf("notes.txt is %lld bytes\n", (long long)st.st_size);

    snprintf(path2, sizeof path2, "%s/sub", dir);
    if (mkdir(path2, 0755) != 0) return fail("mkdir", path2);
    snprintf(path2, sizeof path2, "%s/sub/moved.txt", dir);
    if (rename(path, path2) != 0) return fail("rename", path);
    printf("renamed to sub/moved.txt\n");
    if (access(path, F_OK) == 0) printf("notes.txt still exists (unexpected)\n");
    else printf("notes.txt is gone: %s\n", strerror(errno));

    snprintf(path, sizeof path, "%s/tmp.txt", dir);
    f = fopen(path, "w");
    if (!f) return fail("fopen w", path);
    fclose(f);
    if (list(dir) != 0) return 1;
    if (unlink(path) != 0) return fail("unlink", path);
    printf("removed tmp.txt\n");
    snprintf(path, sizeof path, "%s/no/such/file", dir);
    if (fopen(path, "r") == NULL) printf("open no/such/file: %s\n", strerror(errno));
    return list(dir);
}
