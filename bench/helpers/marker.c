/* marker: the service program of tend's benchmark (bench/tendbench.py).
 *
 *   marker NAME MARKFILE
 *
 * On start it appends one line "NAME PID CLOCK_MONOTONIC_NS\n" to MARKFILE
 * with a single O_APPEND write(2) (so many instances can share one file
 * without interleaving), then sleeps in pause() until a signal ends it.
 * The monotonic clock is read first thing in main(), so the harness can
 * compute "kill -> replacement running" from the mark alone.
 *
 * Built by tendbench.py as bench/out/marker: cc -O2 -static (dynamic if no
 * static libc is available).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    if (argc != 3) {
        fprintf(stderr, "usage: marker NAME MARKFILE\n");
        return 2;
    }
    char line[512];
    int n = snprintf(line, sizeof line, "%s %ld %lld\n", argv[1], (long)getpid(),
                     (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec);
    if (n < 0 || n >= (int)sizeof line) {
        fprintf(stderr, "marker: name too long\n");
        return 2;
    }
    int fd = open(argv[2], O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        fprintf(stderr, "marker: open %s: %s\n", argv[2], strerror(errno));
        return 1;
    }
    if (write(fd, line, (size_t)n) != n) {
        fprintf(stderr, "marker: write %s: %s\n", argv[2], strerror(errno));
        return 1;
    }
    close(fd);
    for (;;)
        pause();
}
