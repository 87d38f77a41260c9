/*
 * PID 1 of the TD initramfs (initramfs-tdx.cpio.gz): prints the firmware's event log (CCEL), loads Debian's configfs,
 * tsm and tdx-guest modules, asks the TDX module
 * for its TDREPORT through /dev/tdx_guest (TDX_CMD_GET_REPORT0), prints the TD's MRTD and RTMR0-3 from it, gets a
 * quote through configfs-tsm and prints its size, unloads tdx-guest, and powers the TD off. Tests compare the MRTD
 * with what `cocolaunch measure` predicts and verify the quote the VMM wrote with --evidence-out.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define MODULE_INIT_COMPRESSED_FILE 4
#define TDX_CMD_GET_REPORT0 0xC4405401UL /* _IOWR('T', 1, struct tdx_report_req) */
#define TDINFO_AT 512                    /* after REPORTMACSTRUCT (256) and TEE_TCB_INFO (256) */
#define MRTD_AT (TDINFO_AT + 16)         /* after ATTRIBUTES and XFAM */
#define RTMR_AT (MRTD_AT + 4 * 48)       /* after MRTD, MRCONFIGID, MROWNER, MROWNERCONFIG */

struct tdx_report_req {
    unsigned char reportdata[64];
    unsigned char tdreport[1024];
};

static void say(const char *line)
{
    (void)!write(1, line, strlen(line));
}

static void hex_line(const char *name, const unsigned char *bytes)
{
    char line[160];
    int n = snprintf(line, sizeof line, "cocolaunch-tdx-init: %s ", name);
    for (int i = 0; i < 48; i++)
        n += snprintf(line + n, sizeof line - n, "%02x", bytes[i]);
    snprintf(line + n, sizeof line - n, "\n");
    say(line);
}

static int load(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    long r = syscall(SYS_finit_module, fd, "", MODULE_INIT_COMPRESSED_FILE);
    close(fd);
    return (int)r;
}

static unsigned int u32_at(const unsigned char *p) { return p[0] | p[1] << 8 | p[2] << 16 | (unsigned int)p[3] << 24; }

/*
 * The firmware's event log, which Linux shows from the CCEL table: after the Spec ID event (a SHA-1-style
 * TCG_PCR_EVENT), one line per TCG_PCR_EVENT2 with its MR index, type and SHA-384 digest (tdx-mrtd.md §6.3).
 */
static void event_log(void)
{
    static unsigned char log[0x8000];
    char line[200];
    int fd = open("/sys/firmware/acpi/tables/data/CCEL", O_RDONLY | O_CLOEXEC);
    long size = 0, n;
    while (fd >= 0 && size < (long)sizeof log && (n = read(fd, log + size, sizeof log - size)) > 0)
        size += n;
    if (fd < 0 || size < 32) {
        say("cocolaunch-tdx-init: no CCEL event log\n");
        return;
    }
    close(fd);

    long at = 32 + u32_at(log + 28), events = 0;
    while (at + 66 <= size && u32_at(log + at) != 0xFFFFFFFFu && u32_at(log + at + 8) == 1
           && (log[at + 12] | log[at + 13] << 8) == 0x000C) {
        int k = snprintf(line, sizeof line, "cocolaunch-tdx-init: event MR%u type 0x%08x sha384 ", u32_at(log + at), u32_at(log + at + 4));
        for (int i = 0; i < 48; i++)
            k += snprintf(line + k, sizeof line - k, "%02x", log[at + 14 + i]);
        snprintf(line + k, sizeof line - k, "\n");
        say(line);
        at += 66 + u32_at(log + at + 62);
        events++;
    }
    snprintf(line, sizeof line, "cocolaunch-tdx-init: CCEL log %ld bytes, %ld events after the Spec ID event\n", size, events);
    say(line);

    /* The records themselves, for a verifier on the host (cocolaunch verify-evidence --event-log). */
    say("cocolaunch-tdx-init: CCEL ");
    for (long i = 0; i < at; i += 32) {
        int k = 0;
        for (long j = i; j < at && j < i + 32; j++)
            k += snprintf(line + k, sizeof line - k, "%02x", log[j]);
        say(line);
    }
    say("\n");
}

/* A quote through configfs-tsm: REPORTDATA into inblob, the quote out of outblob (Documentation/ABI/testing/configfs-tsm). */
static void quote(void)
{
    static const char report[] = "/sys/kernel/config/tsm/report/cocolaunch";
    static unsigned char inblob[64] = "cocolaunch report data";
    static unsigned char outblob[16384];
    char line[160];
    if (mount("configfs", "/sys/kernel/config", "configfs", 0, NULL) != 0
        || mkdir(report, 0700) != 0) {
        snprintf(line, sizeof line, "cocolaunch-tdx-init: configfs-tsm: %s\n", strerror(errno));
        say(line);
        return;
    }

    long total = -1;
    int in = open("/sys/kernel/config/tsm/report/cocolaunch/inblob", O_WRONLY | O_CLOEXEC);
    if (in >= 0 && write(in, inblob, sizeof inblob) == (long)sizeof inblob && close(in) == 0) {
        int out = open("/sys/kernel/config/tsm/report/cocolaunch/outblob", O_RDONLY | O_CLOEXEC);
        if (out >= 0) {
            long n;
            total = 0;
            while (total < (long)sizeof outblob && (n = read(out, outblob + total, sizeof outblob - total)) > 0)
                total += n;
            if (n < 0)
                total = -1;
            close(out);
        }
    }

    if (total < 0)
        snprintf(line, sizeof line, "cocolaunch-tdx-init: quote failed: %s\n", strerror(errno));
    else
        snprintf(line, sizeof line, "cocolaunch-tdx-init: quote %ld bytes\n", total);
    say(line);
    rmdir(report);
}

int main(void)
{
    say("cocolaunch-tdx-init: hello from PID 1\n");
    mount("devtmpfs", "/dev", "devtmpfs", 0, NULL);
    mkdir("/sys", 0755);
    mount("sysfs", "/sys", "sysfs", 0, NULL);
    event_log();
    const char *failed = load("/lib/modules/configfs.ko.xz") != 0 ? "configfs"
                         : load("/lib/modules/tsm.ko.xz") != 0 ? "tsm"
                         : load("/lib/modules/tdx-guest.ko.xz") != 0 ? "tdx-guest" : NULL;
    if (failed) {
        char line[128];
        snprintf(line, sizeof line, "cocolaunch-tdx-init: cannot load %s: %s\n", failed, strerror(errno));
        say(line);
    } else {
        static struct tdx_report_req req;
        int fd = open("/dev/tdx_guest", O_RDWR | O_CLOEXEC);
        if (fd < 0 || ioctl(fd, TDX_CMD_GET_REPORT0, &req) != 0) {
            say("cocolaunch-tdx-init: TDX_CMD_GET_REPORT0 failed\n");
        } else {
            hex_line("MRTD", req.tdreport + MRTD_AT);
            char name[8];
            for (int i = 0; i < 4; i++) {
                snprintf(name, sizeof name, "RTMR%d", i);
                hex_line(name, req.tdreport + RTMR_AT + 48 * i);
            }
        }
        if (fd >= 0)
            close(fd);

        quote();
        /* Unloading tdx-guest frees its shared quote buffer, which converts it back to private (MapGPA). */
        if (syscall(SYS_delete_module, "tdx_guest", O_NONBLOCK) == 0) {
            say("cocolaunch-tdx-init: tdx-guest unloaded\n");
        } else {
            char line[128];
            snprintf(line, sizeof line, "cocolaunch-tdx-init: cannot unload tdx-guest: %s\n", strerror(errno));
            say(line);
        }
    }

    say("cocolaunch-tdx-init: powering off\n");
    sync();
    reboot(RB_POWER_OFF);
    return 0;
}
