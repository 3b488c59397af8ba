/* ready: a oneshot service for the `deps` workload of tend's benchmark.
 *
 *   ready NAME MARKFILE DELAY_US
 *
 * Sleeps DELAY_US microseconds (its "readiness delay"), appends one line
 * "NAME PID CLOCK_MONOTONIC_NS\n" to MARKFILE with a single O_APPEND write(2),
 * and exits 0: for a Type=oneshot unit, that exit is the moment it is ready.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: ready NAME MARKFILE DELAY_US\n");
        return 2;
    }
    long us = atol(argv[3]);
    struct timespec d = { us / 1000000, (us % 1000000) * 1000 };
    while (nanosleep(&d, &d) != 0) {}
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    char line[512];
    int n = snprintf(line, sizeof line, "%s %ld %lld\n", argv[1], (long)getpid(),
                     (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec);
    int fd = open(argv[2], O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0 || n <= 0 || write(fd, line, (size_t)n) != n) return 1;
    close(fd);
    return 0;
}
