/* lines: writes COUNT numbered 100-byte lines to stdout as fast as it can, in 64 KiB writes, like the
 * shared harness's svc-marker -l:  "L%010d " + 88 bytes of filler + "\n".
 *
 *   lines COUNT
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    long count = argc > 1 ? atol(argv[1]) : 1000000;
    static char buf[65536];
    size_t used = 0;
    const char *filler = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcdefghijklmnopqrstuvwxyz";
    for (long i = 1; i <= count; i++) {
        if (used + 101 > sizeof buf) {
            size_t off = 0;
            while (off < used) {
                ssize_t n = write(1, buf + off, used - off);
                if (n <= 0) return 1;
                off += (size_t)n;
            }
            used = 0;
        }
        used += (size_t)snprintf(buf + used, 101, "L%010ld %.87s\n", i, filler);
    }
    size_t off = 0;
    while (off < used) {
        ssize_t n = write(1, buf + off, used - off);
        if (n <= 0) return 1;
        off += (size_t)n;
    }
    return 0;
}
