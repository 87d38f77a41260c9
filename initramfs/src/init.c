/*
 * PID 1 of CocoLaunch's test initramfs. It proves the platform carries a real userspace: it mounts /proc,
 * reads /proc/cpuinfo, makes and reads back a file, runs a child process and waits for it, then powers the
 * machine off. Every step prints one line on the console, so a test can match the boot log line by line.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

static void say(const char *line)
{
    (void)!write(1, line, strlen(line));
}

/* The first "model name" or "vendor_id" line of /proc/cpuinfo, and how many processors it lists. */
static void cpuinfo(void)
{
    char buffer[16384];
    int fd = open("/proc/cpuinfo", O_RDONLY);
    if (fd < 0) {
        say("cocolaunch-init: cannot open /proc/cpuinfo\n");
        return;
    }

    ssize_t n = read(fd, buffer, sizeof buffer - 1);
    close(fd);
    buffer[n > 0 ? n : 0] = 0;
    int processors = 0;
    for (char *p = buffer; (p = strstr(p, "processor")) != NULL; p++) {
        processors++;
    }

    char *vendor = strstr(buffer, "vendor_id");
    char line[256];
    if (vendor != NULL) {
        size_t len = strcspn(vendor, "\n");
        snprintf(line, sizeof line, "cocolaunch-init: cpuinfo %.*s, processors %d\n", (int)len, vendor, processors);
    } else {
        snprintf(line, sizeof line, "cocolaunch-init: cpuinfo has %zd bytes, processors %d\n", n, processors);
    }

    say(line);
}

static void file_round_trip(void)
{
    const char text[] = "written by PID 1";
    char back[64] = {0};
    int fd = open("/tmp-file", O_CREAT | O_RDWR | O_TRUNC, 0600);
    if (fd < 0 || write(fd, text, sizeof text) != (ssize_t)sizeof text || lseek(fd, 0, SEEK_SET) != 0
        || read(fd, back, sizeof back) != (ssize_t)sizeof text || strcmp(back, text) != 0) {
        say("cocolaunch-init: file round trip FAILED\n");
    } else {
        say("cocolaunch-init: file round trip ok\n");
    }

    if (fd >= 0) {
        close(fd);
    }

    unlink("/tmp-file");
}

static void child_process(void)
{
    pid_t pid = fork();
    if (pid == 0) {
        _exit(42);
    }

    int status = 0;
    char line[96];
    if (pid < 0 || waitpid(pid, &status, 0) != pid) {
        say("cocolaunch-init: fork/wait FAILED\n");
        return;
    }

    snprintf(line, sizeof line, "cocolaunch-init: child %d exited with %d\n", (int)pid, WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    say(line);
}

int main(void)
{
    struct utsname u;
    char line[256];
    say("cocolaunch-init: hello from PID 1\n");
    if (uname(&u) == 0) {
        snprintf(line, sizeof line, "cocolaunch-init: %s %s %s\n", u.sysname, u.release, u.machine);
        say(line);
    }

    mkdir("/proc", 0555);
    if (mount("proc", "/proc", "proc", 0, NULL) != 0) {
        say("cocolaunch-init: mounting /proc FAILED\n");
    }

    cpuinfo();
    file_round_trip();
    child_process();
    say("cocolaunch-init: powering off\n");
    sync();
    reboot(RB_POWER_OFF);
    say("cocolaunch-init: power-off FAILED\n");
    for (;;) {
        pause();
    }
}
