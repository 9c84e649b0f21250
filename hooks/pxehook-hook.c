/*
 * pxehook-hook: the DHCP-server hook on the DHCP path (dnsmasq dhcp-script, ISC dhcpd
 * execute(), Kea run_script). It does the least possible: serialise argv and the DHCP
 * server's variables into ONE record, append it with ONE write() to the spool file, and
 * exit 0. pxehook's ingester (pxehook/capture/ingest.py) does the real work later.
 *
 * Record format (docs/capture.md "Spool format"; pxehook/capture/hook_py.py writes the
 * same bytes):
 *
 *   "PXH1 " <payload length, 8 lower-case hex> " " <CRC-32 of payload, 8 hex> "\n"
 *   <payload> "\n"
 *
 *   payload = items, each terminated by NUL; the first byte names the item:
 *     't' <unix seconds>.<microseconds>   time the hook ran (first item)
 *     'a' <argument>                      argv[1], argv[2], ... in order (argv[0] skipped)
 *     'e' <NAME>=<value>                  environment variables of the DHCP servers
 *                                         (DNSMASQ_*, LEASE4_*, LEASES4_*, ...), in order
 *     'x' "truncated"                     present when the record hit the size cap
 *
 * argv and environment strings cannot hold NUL, so NUL framing is unambiguous for any
 * byte a client sends (newlines, quotes, invalid UTF-8 ...). Nothing is interpreted here.
 *
 * Spool path: $PXH_HOOK_SPOOL if set, else the compiled-in PXEHOOK_SPOOL
 * (cc -DPXEHOOK_SPOOL='"/var/lib/pxehook/spool/hook.spool"').
 * fsync mode: $PXH_HOOK_FSYNC if set, else the compiled-in PXEHOOK_FSYNC (default 2):
 *   0 / off    no fsync (the record survives a crash of any process, not of the kernel)
 *   1 / sync   fdatasync() before exiting (costs one journal commit per event, ~3 ms)
 *   2 / async  fork a child that fdatasync()s after the hook exited: the DHCP server
 *              waits ~1 ms, the record is on disk a journal commit later, and concurrent
 *              children share commits (group commit). The child closes stdio first.
 *
 * The ingester rotates the spool by unlinking a fully consumed file while holding an
 * exclusive flock(); writers hold a shared flock() for their write and reopen when the
 * file they opened has been unlinked, so no record lands in a deleted file.
 *
 * Never hurts DHCP: every failure is one line on stderr and exit status 0. The "init"
 * action (dnsmasq leasefile-ro) prints nothing and writes nothing.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#ifndef PXEHOOK_SPOOL
#define PXEHOOK_SPOOL "/var/lib/pxehook/spool/hook.spool"
#endif
#ifndef PXEHOOK_FSYNC
#define PXEHOOK_FSYNC 2
#endif

#define HEADER_LEN 23           /* "PXH1 " + 8 hex + " " + 8 hex + "\n" */
#define MAX_PAYLOAD (60 * 1024) /* one record stays far below any pipe/page limit */
#define MAX_VALUE 4096          /* one argument or variable, bytes */

extern char **environ;

/* pxehook/daemons.py HOOK_ENV, copied (tests/test_daemons.py holds them equal). */
static const char *const PREFIXES[] = {
    "DNSMASQ_", "LEASE4_", "LEASES4_", "DELETED_LEASES4_", "QUERY4_",
    "SUBNET4_", "PKT4_",   "REMOVE_LEASE=", NULL,
};

static char record[HEADER_LEN + MAX_PAYLOAD + 1];
static size_t used; /* payload bytes */
static int truncated;

static int wanted(const char *var) {
    for (const char *const *p = PREFIXES; *p; p++)
        if (strncmp(var, *p, strlen(*p)) == 0) return 1;
    return 0;
}

/* Append one item: kind byte, text (cut at MAX_VALUE), NUL. */
static void item(char kind, const char *text) {
    size_t n = strnlen(text, MAX_VALUE);
    if (used + n + 2 > MAX_PAYLOAD - 12) { /* keep room for the 'x' marker */
        truncated = 1;
        return;
    }
    char *out = record + HEADER_LEN + used;
    out[0] = kind;
    memcpy(out + 1, text, n);
    out[n + 1] = '\0';
    used += n + 2;
}

static unsigned long crc32(const unsigned char *data, size_t len) {
    unsigned long crc = 0xFFFFFFFFUL;
    for (size_t i = 0; i < len; i++) {
        crc ^= data[i];
        for (int k = 0; k < 8; k++) crc = (crc >> 1) ^ (0xEDB88320UL & (0UL - (crc & 1UL)));
    }
    return crc ^ 0xFFFFFFFFUL;
}

/* Open the spool for appending under a shared lock; reopen if it was rotated away. */
static int open_spool(const char *path) {
    for (int attempt = 0; attempt < 5; attempt++) {
        int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0660);
        if (fd < 0) return -1;
        int locked = 0;
        for (int i = 0; i < 1000 && !locked; i++) { /* the ingester holds it for microseconds */
            if (flock(fd, LOCK_SH | LOCK_NB) == 0) locked = 1;
            else if (errno == EWOULDBLOCK) usleep(1000);
            else break; /* no flock on this file system: append anyway */
        }
        struct stat st;
        if (fstat(fd, &st) == 0 && st.st_nlink == 0) { /* rotated while we opened it */
            close(fd);
            continue;
        }
        return fd;
    }
    errno = ESTALE;
    return -1;
}

static int fsync_mode(void) {
    const char *v = getenv("PXH_HOOK_FSYNC");
    if (v == NULL || *v == '\0') return PXEHOOK_FSYNC;
    if (!strcmp(v, "0") || !strcmp(v, "off") || !strcmp(v, "no") || !strcmp(v, "false")) return 0;
    if (!strcmp(v, "2") || !strcmp(v, "async")) return 2;
    return 1;
}

/* Make the record durable as configured; never makes the caller wait in async mode. */
static void make_durable(int fd, const char *path) {
    int mode = fsync_mode();
    if (mode == 2) {
        pid_t pid = fork();
        if (pid == 0) {
            int nul = open("/dev/null", O_RDWR);
            if (nul >= 0) {
                dup2(nul, 0);
                dup2(nul, 1);
                dup2(nul, 2);
            }
            setsid();
            fdatasync(fd);
            _exit(0);
        }
        if (pid > 0) return;
        mode = 1; /* cannot fork: do it here */
    }
    if (mode == 1 && fdatasync(fd) != 0)
        fprintf(stderr, "pxehook-hook: fdatasync %s: %s\n", path, strerror(errno));
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "init") == 0) return 0; /* dnsmasq: no leases to report */

    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    char when[40];
    snprintf(when, sizeof when, "%lld.%06ld", (long long)ts.tv_sec, ts.tv_nsec / 1000L);
    item('t', when);
    for (int i = 1; i < argc; i++) item('a', argv[i]);
    for (char **e = environ; e && *e; e++)
        if (wanted(*e)) item('e', *e);
    if (truncated) item('x', "truncated");

    char *payload = record + HEADER_LEN;
    char header[HEADER_LEN + 1];
    snprintf(header, sizeof header, "PXH1 %08lx %08lx\n", (unsigned long)used,
             crc32((const unsigned char *)payload, used));
    memcpy(record, header, HEADER_LEN);
    payload[used] = '\n';
    size_t total = HEADER_LEN + used + 1;

    const char *path = getenv("PXH_HOOK_SPOOL");
    if (path == NULL || *path == '\0') path = PXEHOOK_SPOOL;
    int fd = open_spool(path);
    if (fd < 0 && errno == ENOENT) { /* first event: create the spool directory */
        char dir[4096];
        snprintf(dir, sizeof dir, "%s", path);
        char *slash = strrchr(dir, '/');
        if (slash && slash != dir) {
            *slash = '\0';
            mkdir(dir, 0770);
        }
        fd = open_spool(path);
    }
    if (fd < 0) {
        fprintf(stderr, "pxehook-hook: cannot open spool %s: %s (event dropped)\n", path,
                strerror(errno));
        return 0;
    }
    ssize_t n = write(fd, record, total);
    if (n != (ssize_t)total)
        fprintf(stderr, "pxehook-hook: short write to %s: %s (event dropped)\n", path,
                n < 0 ? strerror(errno) : "disk full?");
    else
        make_durable(fd, path);
    close(fd);
    return 0;
}
