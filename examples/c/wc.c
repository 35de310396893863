/* wc: counts lines, words and bytes on stdin, like `wc`, plus the longest line and a
 * histogram of word lengths. Reads with fread in 1 KiB pieces, so long inputs take many
 * fd_read calls. Built with: clang-19 --target=wasm32-wasi -O2 wc.c -o wc.wasm */

#include <ctype.h>
#include <stdio.h>
#include <string.h>

int main(void) {
    unsigned long lines = 0, words = 0, bytes = 0, longest = 0, line_len = 0, word_len = 0;
    unsigned long hist[9] = {0}; /* word lengths 1..8, and 9+ */
    unsigned char buf[1024];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, stdin)) > 0) {
        for (size_t i = 0; i < n; i++) {
            unsigned char c = buf[i];
            bytes++;
            if (c == '\n') {
                lines++;
                if (line_len > longest) longest = line_len;
                line_len = 0;
            } else {
                line_len++;
            }
            if (isspace(c)) {
                if (word_len > 0) {
                    hist[word_len > 9 ? 8 : word_len - 1]++;
                    words++;
                    word_len = 0;
                }
            } else {
                word_len++;
            }
        }
    }
    if (ferror(stdin)) {
        perror("wc: stdin");
        return 1;
    }
    if (word_len > 0) {
        hist[word_len > 9 ? 8 : word_len - 1]++;
        words++;
    }
    if (line_len > longest) longest = line_len;
    printf("%lu %lu %lu\n", lines, words, bytes);
    printf("longest line: %lu bytes\n", longest);
    for (int i = 0; i < 9; i++) {
        if (hist[i]) printf("words of length %d%s: %lu\n", i + 1, i == 8 ? "+" : "", hist[i]);
    }
    return 0;
}
