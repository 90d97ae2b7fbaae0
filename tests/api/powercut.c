/*
 * A disk that keeps only what was synced, for the power-cut test: loaded
 * into the bridge with LD_PRELOAD, it passes fsync and fdatasync through and,
 * after each one that succeeds on a regular file directly in
 * $POWERCUT_WATCH, copies that file's whole content to $POWERCUT_SHADOW
 * under the same name. After the bridge is killed, the shadow folder holds
 * each file as it was at its last sync: what a power cut would leave.
 *
 * Writes made while a sync runs may land in the copy too; that can only
 * keep more than a real disk would, never less.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static pthread_mutex_t copying = PTHREAD_MUTEX_INITIALIZER;

static void keep(int fd) {
    const char *watch = getenv("POWERCUT_WATCH");
    const char *shadow = getenv("POWERCUT_SHADOW");
    if (!watch || !shadow) return;
    char link[64], path[PATH_MAX];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, path, sizeof path - 1);
    if (n <= 0) return;
    path[n] = 0;
    size_t w = strlen(watch);
    if (strncmp(path, watch, w) != 0 || path[w] != '/') return;
    const char *name = path + w + 1;
    if (strchr(name, '/')) return;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) return;

    char tmp[PATH_MAX], dst[PATH_MAX];
    snprintf(dst, sizeof dst, "%s/%s", shadow, name);
    snprintf(tmp, sizeof tmp, "%s/.%s.copy", shadow, name);
    pthread_mutex_lock(&copying);
    int out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (out >= 0) {
        static char buf[1 << 16];
        off_t off = 0;
        ssize_t r;
        int ok = 1;
        while (ok && (r = pread(fd, buf, sizeof buf, off)) > 0) {
            for (ssize_t done = 0; done < r;) {
                ssize_t m = write(out, buf + done, r - done);
                if (m <= 0) { ok = 0; break; }
                done += m;
            }
            off += r;
        }
        close(out);
        if (ok) rename(tmp, dst);
        else unlink(tmp);
    }
    pthread_mutex_unlock(&copying);
}

int fsync(int fd) {
    static int (*real)(int);
    if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
    int r = real(fd);
    if (r == 0) keep(fd);
    return r;
}

int fdatasync(int fd) {
    static int (*real)(int);
    if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
    int r = real(fd);
    if (r == 0) keep(fd);
    return r;
}
