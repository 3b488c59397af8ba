/* notifier: sd_notify load for tend's benchmark.
 *
 *   notifier flood COUNT       sends COUNT datagrams "STATUS=n" to $NOTIFY_SOCKET as fast as it can, then pauses
 *   notifier ready MARKFILE    appends "ready REALTIME_US" to MARKFILE, sends READY=1, then pauses
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <fcntl.h>
#include <stddef.h>

static int connect_notify(void)
{
    const char *path = getenv("NOTIFY_SOCKET");
    if (!path) { fprintf(stderr, "no NOTIFY_SOCKET\n"); exit(1); }
    struct sockaddr_un a;
    memset(&a, 0, sizeof a);
    a.sun_family = AF_UNIX;
    size_t n = strlen(path);
    memcpy(a.sun_path, path, n);
    if (path[0] == '@') a.sun_path[0] = 0;
    int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
    if (connect(fd, (struct sockaddr *)&a, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + (path[0] == '@' ? 0 : 1))) < 0) {
        perror("connect");
        exit(1);
    }
    return fd;
}

int main(int argc, char **argv)
{
    if (argc < 3) return 2;
    int fd = connect_notify();
    if (strcmp(argv[1], "flood") == 0) {
        long count = atol(argv[2]);
        char msg[64];
        for (long i = 1; i <= count; i++) {
            int n = snprintf(msg, sizeof msg, "STATUS=%ld", i);
            if (send(fd, msg, (size_t)n, 0) < 0) { perror("send"); return 1; }
        }
    } else {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        char line[64];
        int n = snprintf(line, sizeof line, "ready %lld\n", (long long)ts.tv_sec * 1000000LL + ts.tv_nsec / 1000);
        int m = open(argv[2], O_WRONLY | O_APPEND | O_CREAT, 0644);
        if (write(m, line, (size_t)n) != n) return 1;
        close(m);
        if (send(fd, "READY=1", 7, 0) < 0) { perror("send"); return 1; }
    }
    for (;;) pause();
}
